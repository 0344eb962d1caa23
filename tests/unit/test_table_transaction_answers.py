"""Reading a transaction's answer (shared/adapters/table_transactions.py), on answers written as the service does."""
from __future__ import annotations

from shared.adapters.table_transactions import operation_answers


def _answer(*parts: str) -> bytes:
    lines = ["--batchresponse_1", "Content-Type: multipart/mixed; boundary=changesetresponse_2", ""]
    for part in parts:
        lines += ["--changesetresponse_2", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "",
                  part]
    lines += ["--changesetresponse_2--", "--batchresponse_1--", ""]
    return "\r\n".join(lines).encode("utf-8")


def test_each_operation_gives_its_status_and_etag_in_order():
    body = _answer(
        "HTTP/1.1 201 Created\r\nDataServiceVersion: 3.0;\r\nETag: W/\"datetime'2026-12-03T18%3A00Z'\"\r\n\r\n"
        '{"PartitionKey":"p","RowKey":"a","note":"\\r\\nHTTP/1.1 500 Not a status line"}\r\n',
        "HTTP/1.1 204 No Content\r\netag: W/\"2\"\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nCache-Control: no-cache\r\n\r\n",  # a delete: no ETag
    )
    assert operation_answers(body) == [(201, "W/\"datetime'2026-12-03T18%3A00Z'\""), (204, 'W/"2"'), (204, None)]


def test_a_refused_operation_shows_as_its_status():
    body = _answer('HTTP/1.1 409 Conflict\r\nContent-ID: 2\r\nContent-Type: application/json\r\n\r\n'
                   '{"odata.error":{"code":"EntityAlreadyExists","message":{"value":"1:The entity exists."}}}')
    assert operation_answers(body) == [(409, None)]


def test_an_answer_without_operations_reads_as_none():
    assert operation_answers(b"--batchresponse_1--\r\n") == []
