"""The Go text/template subset alert labels and annotations use."""

from __future__ import annotations

import pytest

from tidewell.ruler.template import (
    AlertTemplateData,
    TemplateError,
    check_template,
    expand,
    go_float,
)

DATA = AlertTemplateData(labels={"instance": "host:9100", "job": "node"}, value=1234.5678)


@pytest.mark.parametrize(("text", "want"), [
    ("{{ $labels.instance }} is {{ $value }}", "host:9100 is 1234.5678"),
    ("{{ .Labels.job }}/{{ .Value }}", "node/1234.5678"),
    ("{{ humanize $value }}", "1.235k"),
    ("{{ humanize 0.0012 }}", "1.2m"),
    ("{{ humanize1024 2048 }}", "2ki"),
    ("{{ humanizePercentage 0.256 }}", "25.6%"),
    ("{{ humanizeDuration 3725.5 }}", "1h 2m 5s"),
    ('{{ $value | printf "%.2f" }}', "1234.57"),
    ("{{ if gt $value 1000.0 }}big{{ else }}small{{ end }}", "big"),
    ('{{ if eq $labels.job "x" }}x{{ else if eq $labels.job "node" }}n{{ end }}', "n"),
    ("a {{- $labels.job -}} b", "anodeb"),
    ("{{ $labels.job | toUpper }}", "NODE"),
    ("{{ with $labels.missing }}yes{{ else }}no{{ end }}", "no"),
    ("{{ $x := $labels.job }}{{ $x }}!", "node!"),
    ('{{ reReplaceAll "(.*):.*" "$1" $labels.instance }}', "host"),
    ("{{/* a comment */}}plain", "plain"),
])
def test_expand(text: str, want: str) -> None:
    assert expand(text, DATA) == want


@pytest.mark.parametrize(("text", "why"), [
    ("{{ $labels.x", "unclosed action"),
    ("{{ range $labels }}{{ end }}", '"range" is not supported'),
    ('{{ query "up" }}', '"query" is not supported'),
    ("{{ nosuch }}", 'function "nosuch" not defined'),
    ("{{ if true }}", "unexpected EOF"),
    ("{{ $undefined }}", 'undefined variable "$undefined"'),
    ("{{ end }}", "unexpected {{end}}"),
])
def test_refused(text: str, why: str) -> None:
    with pytest.raises(TemplateError, match="template: ") as exc:
        check_template(text)
    assert why in str(exc.value)


@pytest.mark.parametrize(("v", "want"), [(1.0, "1"), (0.5, "0.5"), (123456.0, "123456"),
                                         (1234567.0, "1.234567e+06"), (1e-05, "1e-05"),
                                         (0.0001, "0.0001"), (-2.25, "-2.25"),
                                         (float("nan"), "NaN"), (float("inf"), "+Inf")])
def test_value_prints_as_go_does(v: float, want: str) -> None:
    assert go_float(v) == want
