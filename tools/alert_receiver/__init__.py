"""A local receiver of alert messages (webhook and Teams shapes) for tests and `make demo`: see README.md."""
from tools.alert_receiver.receiver import AlertReceiver

__all__ = ["AlertReceiver"]
