"""A STAND-IN for an InfluxDB 2.x server, for tests and the benchmark.

Why a stand-in: no InfluxDB 2.x can run on the build machine (Debian ships 1.6.7, which has no
/api/v2), so the InfluxDB backend is exercised against this local aiohttp server instead. It
is strict like the real server for the endpoints the backend uses, so client bugs surface here:

- GET /ping (204), GET /health (200 JSON)
- POST /api/v2/write: token auth (401), org/bucket lookup (404), precision check (400), a
  real line-protocol parser (escapes; float, i, u, string and bool fields; optional
  timestamps) that rejects the whole batch with 400 {"code":"invalid",...}; 204 on success
- POST /api/v2/query: the Flux subset the backend sends (from, range, filter on _measurement,
  _field and tags with ==/and/or, aggregateWindow with first/max/min/last/sum, yield), answered
  as annotated CSV (#datatype, #group, #default) the way InfluxDB 2.7 formats it
- POST /api/v2/delete: time range + `_measurement="..."` / tag predicates joined by AND

Anything outside that subset is refused with 400, never guessed. Faults for the fault tests:
`fail_status` (answer every request with that status), `drop_connections` (close the socket
without a response), `delay` (seconds before answering), and `stop()`/`start()` on the same port
to simulate an outage. The real server is used instead when ONECLICK_TEST_INFLUX_URL is set.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PRECISIONS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
INT64 = (-(2**63), 2**63 - 1)

# ---------------------------------------------------------------------------------------------
# line protocol


class LineProtocolError(ValueError):
    pass


@dataclass
class Line:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, tuple[str, Any]]  # name -> (flux type, value)
    timestamp: int | None


_FLOAT_RE = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_BOOLS = {
    "t": True,
    "T": True,
    "true": True,
    "True": True,
    "TRUE": True,
    "f": False,
    "F": False,
    "false": False,
    "False": False,
    "FALSE": False,
}


def _scan(text: str, pos: int, stops: str, escapable: str) -> tuple[str, int]:
    """Read up to an unescaped stop character; returns (unescaped text, index of the stop)."""
    out = []
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in escapable:
            out.append(text[pos + 1])
            pos += 2
            continue
        if char in stops:
            break
        out.append(char)
        pos += 1
    return "".join(out), pos


def _field_value(raw: str) -> tuple[str, Any]:
    if raw.endswith("i") and re.fullmatch(r"[-+]?\d+i", raw):
        value = int(raw[:-1])
        if not INT64[0] <= value <= INT64[1]:
            raise LineProtocolError(f"value out of range: {raw}")
        return "long", value
    if raw.endswith("u") and re.fullmatch(r"\d+u", raw):
        value = int(raw[:-1])
        if value > 2**64 - 1:
            raise LineProtocolError(f"value out of range: {raw}")
        return "unsignedLong", value
    if raw in _BOOLS:
        return "boolean", _BOOLS[raw]
    if _FLOAT_RE.fullmatch(raw):
        value_f = float(raw)
        if value_f in (float("inf"), float("-inf")):
            raise LineProtocolError(f"value out of range: {raw}")
        return "double", value_f
    raise LineProtocolError(f"invalid field format: {raw!r}")


def parse_line(text: str) -> Line:
    measurement, pos = _scan(text, 0, ", ", ", \\")
    if not measurement:
        raise LineProtocolError("missing measurement")
    tags: dict[str, str] = {}
    while pos < len(text) and text[pos] == ",":
        key, pos = _scan(text, pos + 1, "=, ", ",= \\")
        if pos >= len(text) or text[pos] != "=" or not key:
            raise LineProtocolError("missing tag key")
        value, pos = _scan(text, pos + 1, ", ", ",= \\")
        if not value:
            raise LineProtocolError("missing tag value")
        tags[key] = value
    if pos >= len(text) or text[pos] != " ":
        raise LineProtocolError("missing fields")
    pos += 1
    fields: dict[str, tuple[str, Any]] = {}
    while True:
        key, pos = _scan(text, pos, "=, ", ",= \\")
        if pos >= len(text) or text[pos] != "=" or not key:
            raise LineProtocolError("missing field key" if not key else "missing field value")
        pos += 1
        if pos < len(text) and text[pos] == '"':
            pos += 1
            chars = []
            while pos < len(text) and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\':
                    pos += 1
                chars.append(text[pos])
                pos += 1
            if pos >= len(text):
                raise LineProtocolError("unbalanced quotes")
            pos += 1
            fields[key] = ("string", "".join(chars))
        else:
            start = pos
            while pos < len(text) and text[pos] not in ", ":
                pos += 1
            raw = text[start:pos]
            if not raw:
                raise LineProtocolError("missing field value")
            fields[key] = _field_value(raw)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        break
    timestamp = None
    if pos < len(text):
        rest = text[pos + 1 :]
        if not re.fullmatch(r"-?\d+", rest):
            raise LineProtocolError(f"bad timestamp: {rest!r}")
        timestamp = int(rest)
    return Line(measurement, tags, fields, timestamp)


# ---------------------------------------------------------------------------------------------
# Flux subset


class FluxError(ValueError):
    pass


_STR = r'"((?:[^"\\]|\\.)*)"'
_TIME = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z)"
_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _unquote(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: m.group(1), s)


def _split_pipeline(query: str) -> list[str]:
    stages, current, in_str, i = [], [], False, 0
    while i < len(query):
        c = query[i]
        if in_str:
            current.append(c)
            if c == "\\" and i + 1 < len(query):
                current.append(query[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            current.append(c)
        elif query.startswith("|>", i):
            stages.append("".join(current).strip())
            current = []
            i += 1
        else:
            current.append(c)
        i += 1
    stages.append("".join(current).strip())
    return stages


def _parse_time(text: str) -> int:
    base, _, frac = text[:-1].partition(".")
    at = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    delta = at - EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return seconds * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def format_time(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    text = (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


_TERM = re.compile(r"\s*r(?:\.(\w+)|\[" + _STR + r"\])\s*==\s*" + _STR + r"\s*")


def _parse_predicate(expr: str) -> Callable[[dict[str, Any]], bool]:
    joiners = set(re.findall(r'\b(and|or)\b(?=(?:[^"]*"[^"]*")*[^"]*$)', expr))
    if len(joiners) > 1:
        raise FluxError("stand-in: mixing and/or in one filter is not supported")
    joiner = joiners.pop() if joiners else "and"
    terms = []
    for part in re.split(rf'\s{joiner}\s(?=(?:[^"]*"[^"]*")*[^"]*$)', expr):
        m = _TERM.fullmatch(part)
        if not m:
            raise FluxError(f"compilation failed: unsupported predicate {part.strip()!r}")
        key = m.group(1) or _unquote(m.group(2))
        terms.append((key, _unquote(m.group(3))))
    if joiner == "and":
        return lambda r: all(r.get(k) == v for k, v in terms)
    return lambda r: any(r.get(k) == v for k, v in terms)


@dataclass
class Plan:
    bucket: str
    start: int
    stop: int
    filters: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)
    every: int | None = None
    fn: str | None = None
    create_empty: bool = True
    time_src: str = "_stop"
    name: str = "_result"


def parse_flux(query: str) -> Plan:
    stages = _split_pipeline(query.strip())
    m = re.fullmatch(r"from\(bucket:\s*" + _STR + r"\)", stages[0])
    if not m:
        raise FluxError(f"compilation failed: expected from(bucket: ...), got {stages[0]!r}")
    bucket = _unquote(m.group(1))
    if len(stages) < 2:
        raise FluxError('error calling function "from": unbounded from (add a range)')
    m = re.fullmatch(r"range\(start:\s*" + _TIME + r",\s*stop:\s*" + _TIME + r"\)", stages[1])
    if not m:
        raise FluxError(f"stand-in: unsupported range {stages[1]!r}")
    plan = Plan(bucket, _parse_time(m.group(1)), _parse_time(m.group(2)))
    for stage in stages[2:]:
        if m := re.fullmatch(r"filter\(fn:\s*\(r\)\s*=>\s*(.+)\)", stage, re.S):
            if plan.every is not None:
                raise FluxError("stand-in: filter after aggregateWindow is not supported")
            plan.filters.append(_parse_predicate(m.group(1)))
        elif m := re.fullmatch(
            r"aggregateWindow\(every:\s*(\d+)([smhd]),\s*fn:\s*(\w+)"
            r"(?:,\s*createEmpty:\s*(true|false))?(?:,\s*timeSrc:\s*\"(_start|_stop)\")?\)",
            stage,
        ):
            if m.group(3) not in {"first", "last", "min", "max", "sum"}:
                raise FluxError(f"stand-in: aggregate fn {m.group(3)} is not supported")
            plan.every = int(m.group(1)) * _DURATIONS[m.group(2)] * 1_000_000_000
            plan.fn = m.group(3)
            plan.create_empty = m.group(4) != "false"
            plan.time_src = m.group(5) or "_stop"
        elif m := re.fullmatch(r"yield\(name:\s*" + _STR + r"\)", stage):
            plan.name = _unquote(m.group(1))
        else:
            raise FluxError(f"stand-in: unsupported stage {stage!r}")
    if plan.start >= plan.stop:
        raise FluxError("cannot query an empty range")
    return plan


# ---------------------------------------------------------------------------------------------
# storage and evaluation

SeriesKey = tuple[str, tuple[tuple[str, str], ...], str]  # measurement, tags, field


@dataclass
class Bucket:
    name: str
    bucket_id: str
    series: dict[SeriesKey, dict[int, tuple[str, Any]]] = field(default_factory=dict)

    def count(self) -> int:
        return sum(len(rows) for rows in self.series.values())


def _reduce(fn: str, values: list[Any]) -> Any:
    if fn == "first":
        return values[0]
    if fn == "last":
        return values[-1]
    if fn == "min":
        return min(values)
    if fn == "max":
        return max(values)
    return sum(values)


def _format_value(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "double":
        return format(Decimal(repr(value)).normalize(), "f")  # Go's FormatFloat(f, 'f', -1, 64)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "string":
        text = str(value)
        if any(c in text for c in ',"\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text
    return str(value)


def evaluate(bucket: Bucket, plan: Plan) -> str:
    tables = []
    for (measurement, tags, field_name), rows in sorted(bucket.series.items()):
        record = {"_measurement": measurement, "_field": field_name, **dict(tags)}
        if not all(f(record) for f in plan.filters):
            continue
        times = sorted(t for t in rows if plan.start <= t < plan.stop)
        if not times:
            continue
        kind = rows[times[0]][0]
        out: list[tuple[int, Any]] = [(t, rows[t][1]) for t in times]
        if plan.every is not None and plan.fn is not None:
            if plan.fn == "sum" and kind in ("string", "boolean"):
                raise FluxError(f"unsupported input type for sum aggregate: {kind}")
            windows: dict[int, list[Any]] = {}
            for t, value in out:
                windows.setdefault(t - t % plan.every, []).append(value)
            if plan.create_empty:
                first = plan.start - plan.start % plan.every
                for w in range(first, plan.stop, plan.every):
                    windows.setdefault(w, [])
            out = []
            for w in sorted(windows):
                w_start, w_stop = max(w, plan.start), min(w + plan.every, plan.stop)
                label = w_start if plan.time_src == "_start" else w_stop
                out.append((label, _reduce(plan.fn, windows[w]) if windows[w] else None))
        tables.append((measurement, tags, field_name, kind, out))
    return _to_csv(tables, plan)


def _to_csv(tables: list[Any], plan: Plan) -> str:
    lines: list[str] = []
    previous_schema = None
    start, stop = format_time(plan.start), format_time(plan.stop)
    for index, (measurement, tags, field_name, kind, rows) in enumerate(tables):
        tag_keys = [k for k, _ in tags]
        schema = (kind, tuple(tag_keys))
        if schema != previous_schema:
            if previous_schema is not None:
                lines.append("")
            columns = [
                "result",
                "table",
                "_start",
                "_stop",
                "_time",
                "_value",
                "_field",
                "_measurement",
                *tag_keys,
            ]
            types = [
                "string",
                "long",
                "dateTime:RFC3339",
                "dateTime:RFC3339",
                "dateTime:RFC3339",
                kind,
                "string",
                "string",
                *["string"] * len(tag_keys),
            ]
            group = [
                "false",
                "false",
                "true",
                "true",
                "false",
                "false",
                "true",
                "true",
                *["true"] * len(tag_keys),
            ]
            lines.append("#datatype," + ",".join(types))
            lines.append("#group," + ",".join(group))
            lines.append("#default," + plan.name + "," * (len(columns) - 1))
            lines.append("," + ",".join(columns))
            previous_schema = schema
        for t, value in rows:
            cells = [
                "",
                str(index),
                start,
                stop,
                format_time(t),
                _format_value(kind, value),
                _format_value("string", field_name),
                _format_value("string", measurement),
                *(_format_value("string", v) for _, v in tags),
            ]
            lines.append("," + ",".join(cells))
    if not lines:
        return "\r\n"
    return "\r\n".join(lines) + "\r\n\r\n"


# ---------------------------------------------------------------------------------------------
# the server


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


class InfluxStandIn:
    """One org, any number of buckets, one all-access token."""

    def __init__(
        self, token: str = "standin-token", org: str = "oneclick", bucket: str = "oneclick"
    ) -> None:
        self.token = token
        self.org = org
        self.org_id = "0000000000000001"
        self.buckets: dict[str, Bucket] = {bucket: Bucket(bucket, "0000000000000a01")}
        self.bucket = bucket
        self.port = 0
        self.fail_status: int | None = None
        self.drop_connections = False
        self.delay = 0.0
        self.write_requests = 0
        self.query_requests = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, bucket: str | None = None) -> int:
        return self.buckets[bucket or self.bucket].count()

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a random port the first time, the same port after stop())."""
        app = web.Application(middlewares=[self._faults], client_max_size=64 * 1024**2)
        app.router.add_get("/ping", self._ping)
        app.router.add_get("/health", self._health)
        app.router.add_post("/api/v2/write", self._write)
        app.router.add_post("/api/v2/query", self._query)
        app.router.add_post("/api/v2/delete", self._delete)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()

    async def stop(self) -> None:
        """Stop listening (an outage); data is kept for start()."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _faults(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drop_connections and request.transport is not None:
            request.transport.close()
            raise asyncio.CancelledError  # nothing is sent back
        if self.fail_status is not None:
            return _error(self.fail_status, "internal error", "stand-in told to fail")
        return await handler(request)

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(
            status=204, headers={"X-Influxdb-Version": "v2.7.11-standin", "X-Influxdb-Build": "OSS"}
        )

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "name": "influxdb",
                "message": "ready for queries and writes",
                "status": "pass",
                "checks": [],
                "version": "v2.7.11-standin",
                "commit": "standin",
            }
        )

    def _auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme not in ("Token", "Bearer") or token != self.token:
            return _error(401, "unauthorized", "unauthorized access")
        return None

    def _org(self, request: web.Request) -> web.Response | None:
        org, org_id = request.query.get("org"), request.query.get("orgID")
        if org is None and org_id is None:
            return _error(400, "invalid", "Please provide either orgID or org")
        if (org is not None and org != self.org) or (org_id is not None and org_id != self.org_id):
            return _error(404, "not found", f'organization name "{org or org_id}" not found')
        return None

    def _bucket(self, name: str | None) -> Bucket | web.Response:
        for bucket in self.buckets.values():
            if name in (bucket.name, bucket.bucket_id):
                return bucket
        return _error(404, "not found", f'bucket "{name}" not found')

    async def _write(self, request: web.Request) -> web.Response:
        self.write_requests += 1
        if (failure := self._auth(request) or self._org(request)) is not None:
            return failure
        bucket = self._bucket(request.query.get("bucket"))
        if isinstance(bucket, web.Response):
            return bucket
        precision = request.query.get("precision", "ns")
        if precision not in PRECISIONS:
            return _error(
                400, "invalid", "invalid precision; valid precision units are ns, us, ms, and s"
            )
        body = (await request.read()).decode("utf-8")
        now = int(datetime.now(UTC).timestamp() * 1e9)
        parsed: list[Line] = []
        for number, text in enumerate(body.split("\n"), start=1):
            text = text.rstrip("\r")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            try:
                parsed.append(parse_line(text))
            except LineProtocolError as exc:
                return _error(400, "invalid", f"unable to parse '{text}': {exc} (line {number})")
        for line in parsed:
            ts = now if line.timestamp is None else line.timestamp * PRECISIONS[precision]
            tags = tuple(sorted(line.tags.items()))
            for name, (kind, value) in line.fields.items():
                series = bucket.series.setdefault((line.measurement, tags, name), {})
                if series and next(iter(series.values()))[0] != kind:
                    existing = next(iter(series.values()))[0]
                    return _error(
                        422,
                        "unprocessable entity",
                        f"failure writing points to database: partial write: field "
                        f'type conflict: input field "{name}" on measurement '
                        f'"{line.measurement}" is type {kind}, already exists as '
                        f"type {existing} dropped=1",
                    )
                series[ts] = (kind, value)
        return web.Response(status=204)

    async def _query(self, request: web.Request) -> web.Response:
        self.query_requests += 1
        if (failure := self._auth(request) or self._org(request)) is not None:
            return failure
        try:
            body = await request.json()
            query = body["query"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "invalid", "failed to decode request body")
        try:
            plan = parse_flux(query)
            bucket = self._bucket(plan.bucket)
            if isinstance(bucket, web.Response):
                return bucket
            text = evaluate(bucket, plan)
        except FluxError as exc:
            return _error(400, "invalid", str(exc))
        return web.Response(text=text, content_type="text/csv", charset="utf-8")

    async def _delete(self, request: web.Request) -> web.Response:
        if (failure := self._auth(request) or self._org(request)) is not None:
            return failure
        bucket = self._bucket(request.query.get("bucket"))
        if isinstance(bucket, web.Response):
            return bucket
        body = await request.json()
        try:
            start = int(datetime.fromisoformat(body["start"]).timestamp() * 1e9)
            stop = int(datetime.fromisoformat(body["stop"]).timestamp() * 1e9)
        except (KeyError, ValueError, TypeError):
            return _error(400, "invalid", "invalid request; error parsing request json")
        terms = {}
        for part in filter(None, re.split(r"\s+AND\s+", body.get("predicate") or "")):
            m = re.fullmatch(r"\s*(\w+)\s*=\s*" + _STR + r"\s*", part)
            if not m:
                return _error(400, "invalid", f"invalid request; error parsing predicate {part!r}")
            terms[m.group(1)] = _unquote(m.group(2))
        for (measurement, tags, field_name), rows in bucket.series.items():
            record = {"_measurement": measurement, "_field": field_name, **dict(tags)}
            if all(record.get(k) == v for k, v in terms.items()):
                for t in [t for t in rows if start <= t <= stop]:
                    del rows[t]
        return web.Response(status=204)
