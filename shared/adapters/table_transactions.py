"""Entity-group transactions sent without azure-core's generic multipart code.

The Tables SDK writes and reads a transaction's multipart body with the standard library's `email` package, which
costs most of the CPU of a transaction (README, "Verify All throughput, CPU and memory"). A transaction's wire
format is small and fixed (a changeset of HTTP requests inside a batch), so `LeanTransactionClient` writes the body
itself from the SDK's own operation requests and reads a successful answer itself. Everything else stays the SDK's:
the operations' requests and their entity serialisation, the pipeline (authentication, retries, logging) and the
errors (a transaction refused whole is raised by the SDK's own error mapping). A transaction that an operation
refused changed nothing, so it is handed to the SDK's own `_batch_send`, which sends it again and raises as it
always does (or succeeds, as if it had been sent once, a moment later).
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.data.tables import RequestTooLargeError, TableClient, TableServiceClient
from azure.data.tables._error import _decode_error, _validate_tablename_error  # the SDK's own error mapping

_CRLF = "\r\n"
_DATED = ("x-ms-date", "date")  # written once for the whole transaction
_STATUS_LINE = re.compile(r"^HTTP/1\.1 (\d{3}) ", re.MULTILINE)
_ETAG = re.compile(r"^etag: *(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


class LeanTransactionClient(TableClient):
    """A TableClient whose transactions skip the SDK's generic multipart code (the module's docstring says why)."""

    def _batch_send(self, table_name: str, *reqs: HttpRequest, **kwargs: Any) -> list[Mapping[str, Any]]:
        if not reqs or kwargs:  # nothing to send (the SDK answers that), or options this path does not carry
            return super()._batch_send(table_name, *reqs, **kwargs)
        batch = f"batch_{uuid.uuid4()}"
        request = HttpRequest(
            "POST",
            f"{self.scheme}://{self._primary_hostname}/$batch",
            headers={
                "x-ms-version": self.api_version,
                "DataServiceVersion": "3.0",
                "MaxDataServiceVersion": "3.0;NetFx",
                "Content-Type": f"multipart/mixed; boundary={batch}",
                "Accept": "application/json",
            },
            content=transaction_body(reqs, batch=batch, changeset=f"changeset_{uuid.uuid4()}"),
        )
        response = self._client.send_request(request, stream=True)  # streamed: no decoding policy reads it
        body = response.read()
        if response.status_code != 202:  # refused whole (or failed after the pipeline's retries): as the SDK raises
            if response.status_code == 413:
                raise _decode_error(response, error_message="The transaction request was too large",
                                    error_type=RequestTooLargeError)
            decoded = _decode_error(response)
            _validate_tablename_error(decoded, table_name)
            raise decoded
        answers = operation_answers(body)
        if any(not 200 <= status < 300 for status, _ in answers):
            return super()._batch_send(table_name, *reqs)  # refused by an operation: nothing changed
        if len(answers) != len(reqs):
            # Accepted, but not as this client reads an answer: it must not be sent again.
            raise HttpResponseError(message=f"A transaction of {len(reqs)} operations was answered with "
                                            f"{len(answers)} results.", response=response)
        return [{"etag": etag} if etag else {} for _, etag in answers]


def lean_table_client(service: TableServiceClient, name: str) -> TableClient:
    """The service's client for table `name`, as a LeanTransactionClient (same pipeline, same transport)."""
    client = service.get_table_client(name)
    client.__class__ = LeanTransactionClient  # adds behaviour only, no state: the SDK built everything else
    return client


def transaction_body(reqs: tuple[HttpRequest, ...], *, batch: str, changeset: str) -> bytes:
    """The multipart body of one changeset of `reqs`, as the SDK would write it."""
    date = formatdate(usegmt=True)
    lines = [f"--{batch}", f"Content-Type: multipart/mixed; boundary={changeset}", ""]
    for index, req in enumerate(reqs):
        lines += [f"--{changeset}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
                  f"Content-ID: {index}", "", f"{req.method} {req.url} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in req.headers.items() if name.lower() not in _DATED]
        content = req.content
        text = content.decode("utf-8") if isinstance(content, bytes) else (content or "")
        lines += [f"x-ms-date: {date}", f"Date: {date}", "", text]
    lines += [f"--{changeset}--", "", f"--{batch}--", ""]
    return _CRLF.join(lines).encode("utf-8")


def operation_answers(body: bytes) -> list[tuple[int, str | None]]:
    """Each operation's status and ETag, in order, from a transaction's answer. An answer's entity bodies are JSON
    (one line, no line break that could start with "HTTP/1.1"), so every status line is an operation's."""
    text = body.decode("utf-8", errors="replace")
    starts = [m.start() for m in _STATUS_LINE.finditer(text)]
    answers = []
    for start, end in zip(starts, [*starts[1:], len(text)]):  # noqa: B905 - one end more when there is none
        head = text[start:end].split("\r\n\r\n", 1)[0]
        etag = _ETAG.search(head)
        answers.append((int(head[9:12]), etag.group(1) if etag else None))
    return answers
