"""The daily maintenance timer: retire secret versions no record names, recount the kept status counts, drop
the per-customer markers of runs older than a week and the states of consent links that expired unused, relay
the status events a host that died left in the outbox, and delete audit records past their 400 days and sent or
failed alert deliveries past their 30."""
import logging

import azure.functions as func

from shared import bootstrap
from shared.usecases.alert_dispatch import forget_expired_deliveries, forget_runs_batches
from shared.usecases.audit import forget_expired
from shared.usecases.consent import forget_expired_states
from shared.usecases.events import relay_quietly
from shared.usecases.runs import prune_runs
from shared.usecases.secret_sweep import sweep_secrets

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("maintenance")
@bp.timer_trigger(arg_name="timer", schedule="0 30 3 * * *", run_on_startup=False, use_monitor=True)
def maintenance(timer: func.TimerRequest) -> None:
    services = bootstrap.services()
    sweep_secrets(services.customers, services.provider_settings, services.secrets, channels=services.channels)
    counts = services.customers.recount_status_counts()
    logger.info("Status counts recounted: %s.", ", ".join(f"{s.value} {n}" for s, n in counts.items()))
    logger.info("Markers of %d old runs deleted.", prune_runs(services.runs))
    logger.info("%d expired consent states removed.", forget_expired_states(services.consent.states))
    relay_quietly(services.outbox, services.events)
    logger.info("%d audit records past their retention deleted.", forget_expired(services.audit))
    logger.info("%d alert deliveries past their retention deleted.", forget_expired_deliveries(services.deliveries))
    logger.info("%d alert batches of old runs deleted.", forget_runs_batches(services.alert_follower))
