"""Timers that keep the stores tidy. The secret sweep retires secret versions that no record names."""
import azure.functions as func

from shared import bootstrap
from shared.usecases.secret_sweep import sweep_secrets

bp = func.Blueprint()


@bp.function_name("secret_sweep")
@bp.timer_trigger(arg_name="timer", schedule="0 30 3 * * *", run_on_startup=False, use_monitor=True)
def secret_sweep(timer: func.TimerRequest) -> None:
    services = bootstrap.services()
    sweep_secrets(services.tenants, services.provider_settings, services.secrets)
