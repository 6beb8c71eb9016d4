"""The ruler: rule store, evaluation, notifications and APIs, started and stopped as one.

Reads go through the query-frontend (``RuleQuerier``), writes through the
distributor (``push``), alerts to Alertmanager (``Notifier``, when
``-ruler.alertmanager-url`` is set); ``owns`` says which groups this ruler
evaluates (the ruler ring; every group without one).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import Route

from tidewell.distributor.limits import Limits
from tidewell.ruler.api import ruler_routes
from tidewell.ruler.config import RulerConfig
from tidewell.ruler.evaluation import EvaluationOptions, GroupEvaluator
from tidewell.ruler.manager import GroupManager
from tidewell.ruler.notifier import Notifier
from tidewell.ruler.output import Pusher
from tidewell.ruler.querying import RuleQuerier
from tidewell.ruler.status import ruler_status_routes
from tidewell.ruler.store import RuleStore
from tidewell.util.services import Supervisor

__all__ = ["Ruler"]


class Ruler:
    def __init__(self, config: RulerConfig, store: RuleStore, querier: RuleQuerier, push: Pusher,
                 limits: Callable[[str], Limits], *,
                 owns: Callable[[str], bool] = lambda key: True,
                 peers: Callable[[], list[str]] = list) -> None:
        self.config = config
        self.store = store
        self.querier = querier
        self.limits = limits
        self.peers = peers
        urls = config.alertmanager_urls()
        self.notifier = Notifier(urls, capacity=config.notification_queue_capacity,
                                 timeout=config.notification_timeout,
                                 external_url=config.external_url) if urls else None
        options = EvaluationOptions(for_grace_period=config.for_grace_period,
                                    for_outage_tolerance=config.for_outage_tolerance,
                                    resend_delay=config.resend_delay,
                                    external_url=config.external_url)
        self.evaluator = GroupEvaluator(querier, push, self.notifier, options)
        self.manager = GroupManager(store, self.evaluator,
                                    default_interval=config.evaluation_interval,
                                    poll_interval=config.poll_interval, owns=owns)

    @property
    def supervisors(self) -> list[Supervisor]:
        out = [self.manager.supervisor]
        if self.notifier is not None:
            out.append(self.notifier.supervisor)
        return out

    async def start(self) -> None:
        if self.notifier is not None:
            await self.notifier.start()
        await self.manager.start()

    async def stop(self) -> None:
        await self.manager.stop()
        if self.notifier is not None:
            await self.notifier.stop()
        await self.querier.close()

    def routes(self) -> list[Route]:
        return [*ruler_routes(self.store, self.limits, self.manager.states, peers=self.peers,
                              enable_config_api=self.config.enable_api),
                *ruler_status_routes(self.manager.all_states)]
