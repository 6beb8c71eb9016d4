from __future__ import annotations

from pathlib import Path

import pytest

from tidewell.objstore import FilesystemBucket


@pytest.fixture
def fs_bucket(tmp_path: Path) -> FilesystemBucket:
    return FilesystemBucket(tmp_path / "bucket", fsync=False)
