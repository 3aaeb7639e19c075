"""Exception types, messages and multi-line stack traces in each language's own style.

Example::

    >>> exc_type, message, stack = exception("checkout", "java", "npe", rng)
    >>> stack.splitlines()[0]
    'java.lang.NullPointerException: Cannot invoke ...'
"""

from __future__ import annotations

import random

__all__ = ["camel", "exception", "logger_name"]


def camel(name: str) -> str:
    return "".join(w.capitalize() for w in name.replace("_", "-").split("-"))


def logger_name(service: str, language: str, r: random.Random) -> str:
    c = camel(service)
    pkg = service.replace("-", "")
    return {
        "java": r.choice(
            [f"com.shop.{pkg}.api.{c}Controller", f"com.shop.{pkg}.service.{c}Service"]
        ),
        "go": r.choice([f"{service}/internal/server", f"{service}/internal/store"]),
        "python": r.choice([f"{pkg}.api", f"{pkg}.handlers", "uvicorn.access"]),
        "node": r.choice([f"{service}:server", f"{service}:routes"]),
    }.get(language, service)


# cause -> (java type, java message) ; other languages below
_JAVA = {
    "npe": (
        "java.lang.NullPointerException",
        'Cannot invoke "com.shop.{pkg}.model.Address.getCountry()" because "shipping" is null',
    ),
    "pool": (
        "java.sql.SQLTransientConnectionException",
        "HikariPool-1 - Connection is not available, request timed out after 2000ms.",
    ),
    "oom": ("java.lang.OutOfMemoryError", "Java heap space"),
    "own": ("java.lang.IllegalStateException", "{own}"),
    "timeout": (
        "org.springframework.web.client.ResourceAccessException",
        'I/O error on POST request for "http://{dep}:8080": Read timed out',
    ),
    "refused": (
        "org.springframework.web.client.ResourceAccessException",
        'I/O error on POST request for "http://{dep}:8080": Connection refused',
    ),
    "reset": (
        "org.springframework.web.client.ResourceAccessException",
        'I/O error on GET request for "http://{dep}:8080": Connection reset',
    ),
    "500": (
        "org.springframework.web.client.HttpServerErrorException$InternalServerError",
        '500 Internal Server Error: "{{"error":"internal error","service":"{dep}"}}"',
    ),
    "503": (
        "org.springframework.web.client.HttpServerErrorException$ServiceUnavailable",
        "503 Service Unavailable: upstream {dep} unavailable",
    ),
    "504": (
        "org.springframework.web.client.HttpServerErrorException$GatewayTimeout",
        "504 Gateway Timeout from {dep}",
    ),
    "db": (
        "org.postgresql.util.PSQLException",
        "Connection to {dep}:5432 refused. Check that the hostname and port are correct and "
        "that the postmaster is accepting TCP/IP connections.",
    ),
    "cache": ("io.lettuce.core.RedisConnectionException", "Unable to connect to {dep}:6379"),
}
_GO = {
    "npe": "runtime error: invalid memory address or nil pointer dereference",
    "pool": "acquire connection: context deadline exceeded (pool max_conns=20)",
    "oom": "runtime: out of memory",
    "own": "{own}",
    "timeout": 'Post "http://{dep}:8080": context deadline exceeded',
    "refused": 'Post "http://{dep}:8080": dial tcp {dep}:8080: connect: connection refused',
    "reset": 'Get "http://{dep}:8080": read tcp: connection reset by peer',
    "500": "{dep}: unexpected status 500 Internal Server Error",
    "503": "{dep}: unexpected status 503 Service Unavailable",
    "504": "{dep}: unexpected status 504 Gateway Timeout",
    "db": "failed to connect to `host={dep} user=shop database=shop`: dial error (dial tcp {dep}:5432: connect: connection refused)",
    "cache": "dial tcp {dep}:6379: connect: connection refused",
}
_PY = {
    "npe": ("AttributeError", "'NoneType' object has no attribute 'country'"),
    "pool": (
        "sqlalchemy.exc.TimeoutError",
        "QueuePool limit of size 20 overflow 0 reached, connection timed out, timeout 2.00",
    ),
    "oom": ("MemoryError", ""),
    "own": ("ValueError", "{own}"),
    "timeout": ("httpx.ReadTimeout", "timed out reading from http://{dep}:8080"),
    "refused": ("httpx.ConnectError", "[Errno 111] Connection refused"),
    "reset": ("httpx.RemoteProtocolError", "Server disconnected without sending a response."),
    "500": (
        "httpx.HTTPStatusError",
        "Server error '500 Internal Server Error' for url 'http://{dep}:8080'",
    ),
    "503": (
        "httpx.HTTPStatusError",
        "Server error '503 Service Unavailable' for url 'http://{dep}:8080'",
    ),
    "504": (
        "httpx.HTTPStatusError",
        "Server error '504 Gateway Timeout' for url 'http://{dep}:8080'",
    ),
    "db": (
        "psycopg.OperationalError",
        'connection failed: connection to server at "{dep}" (10.0.3.17), port 5432 failed: Connection refused',
    ),
    "cache": (
        "redis.exceptions.ConnectionError",
        "Error 111 connecting to {dep}:6379. Connection refused.",
    ),
}
_NODE = {
    "npe": ("TypeError", "Cannot read properties of undefined (reading 'country')"),
    "pool": ("Error", "timeout exceeded when trying to connect"),
    "oom": ("RangeError", "Array buffer allocation failed"),
    "own": ("Error", "{own}"),
    "timeout": ("AxiosError", "timeout of 3000ms exceeded"),
    "refused": ("Error", "connect ECONNREFUSED {dep}:8080"),
    "reset": ("Error", "socket hang up"),
    "500": ("AxiosError", "Request failed with status code 500"),
    "503": ("AxiosError", "Request failed with status code 503"),
    "504": ("AxiosError", "Request failed with status code 504"),
    "db": ("Error", "connect ECONNREFUSED {dep}:5432"),
    "cache": ("Error", "connect ECONNREFUSED {dep}:6379"),
}


_OWN_GENERIC = (
    "request {rid} failed: unexpected state",
    "optimistic lock failed for record {rid}, retries exhausted",
    "could not decode payload of request {rid}",
)
_OWN = {
    "checkout": (
        "inventory reservation {rid} expired before commit",
        "order {rid} total mismatch after currency conversion",
    ),
    "payment": (
        "idempotency key {rid} already used with a different amount",
        "card processor returned malformed response for txn {rid}",
    ),
    "auth": (
        "token signature verification failed for kid {rid}",
        "session {rid} not found in store",
    ),
    "catalog": ("product {rid} has no price in the default currency",),
    "cart": ("cart {rid} version conflict",),
    "shipping": ("no carrier rate for destination zone of quote {rid}",),
    "currency": ("stale exchange rate table (age > 3600s), request {rid}",),
    "recommendation": ("feature vector for product {rid} has wrong dimension",),
    "email": ("template 'order-confirmation' render failed for message {rid}",),
}


def exception(
    service: str, language: str, cause: str, r: random.Random, *, dep: str = "", route: str = ""
) -> tuple[str, str, str]:
    """(exception type, message, multi-line stack trace) for ``cause`` in ``language``."""
    pkg = service.replace("-", "")
    c = camel(service)
    rid = f"{r.getrandbits(32):08x}"
    own = r.choice(_OWN.get(service, _OWN_GENERIC)).format(rid=rid)
    fill = {"pkg": pkg, "dep": dep, "rid": rid, "own": own}
    parts = [p for p in route.split(" ")[-1].split("/") if p and not p.startswith("{")]
    handler = camel(parts[-1] if parts else "index") if route else "Handle"
    if language == "java":
        typ, msg = _JAVA.get(cause, _JAVA["own"])
        msg = msg.format(**fill)
        lines = [f"{typ}: {msg}"]
        if cause in ("timeout", "refused", "reset", "500", "503", "504"):
            lines += [
                "\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:915)",
                "\tat org.springframework.web.client.RestTemplate.execute(RestTemplate.java:872)",
                f"\tat com.shop.{pkg}.client.{camel(dep)}Client.call({camel(dep)}Client.java:{r.randint(40, 90)})",
            ]
        elif cause in ("db", "pool"):
            lines += [
                "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
                "\tat com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:100)",
                f"\tat com.shop.{pkg}.repo.{c}Repository.save({c}Repository.java:{r.randint(30, 80)})",
            ]
        lines += [
            f"\tat com.shop.{pkg}.service.{c}Service.{handler[0].lower() + handler[1:]}({c}Service.java:{r.randint(100, 260)})",
            f"\tat com.shop.{pkg}.api.{c}Controller.handle({c}Controller.java:{r.randint(40, 90)})",
            "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
            "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
            "\tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:166)",
            "\tat java.base/java.lang.Thread.run(Thread.java:1583)",
        ]
        if cause in ("timeout", "refused", "reset"):
            inner = {
                "timeout": "java.net.SocketTimeoutException: Read timed out",
                "refused": "java.net.ConnectException: Connection refused",
                "reset": "java.net.SocketException: Connection reset",
            }[cause]
            lines += [
                f"Caused by: {inner}",
                "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
                "\t... 12 more",
            ]
        return typ, msg, "\n".join(lines)
    if language == "go":
        msg = _GO.get(cause, _GO["own"]).format(**fill)
        typ = "runtime.Error" if cause in ("npe", "oom") else "*errors.errorString"
        gid = r.randint(100, 99999)
        lines = [
            f"{msg}",
            "",
            f"goroutine {gid} [running]:",
            f"{service}/internal/server.(*Server).{handler}(0xc000{r.randint(100000, 999999)}, {{0x1a2b3c0, 0xc0004d2000}})",
            f"\t/src/{service}/internal/server/handlers.go:{r.randint(40, 220)} +0x{r.randint(16, 4095):x}",
            "net/http.HandlerFunc.ServeHTTP(0xc0001b6000?, {0x1a2b3c0?, 0xc0004d2000?}, 0x0?)",
            "\t/usr/local/go/src/net/http/server.go:2220 +0x29",
            "net/http.serverHandler.ServeHTTP({0xc000292000?}, {0x1a2b3c0?, 0xc0004d2000?}, 0x6?)",
            "\t/usr/local/go/src/net/http/server.go:3210 +0x8e",
            "created by net/http.(*Server).Serve in goroutine 1",
            "\t/usr/local/go/src/net/http/server.go:3360 +0x485",
        ]
        return typ, msg, "\n".join(lines)
    if language == "python":
        typ, msg = _PY.get(cause, _PY["own"])
        msg = msg.format(**fill)
        lines = [
            "Traceback (most recent call last):",
            f'  File "/app/{pkg}/api.py", line {r.randint(30, 140)}, in {handler.lower()}',
            f"    result = await service.{handler.lower()}(request)",
            f'  File "/app/{pkg}/service.py", line {r.randint(30, 200)}, in {handler.lower()}',
            "    return await self._fetch(ctx)",
            f"{typ}: {msg}" if msg else typ,
        ]
        return typ, msg, "\n".join(lines)
    typ, msg = _NODE.get(cause, _NODE["own"])
    msg = msg.format(**fill)
    lines = [
        f"{typ}: {msg}",
        f"    at {handler}Handler (/app/src/routes/{handler.lower()}.js:{r.randint(10, 90)}:{r.randint(3, 30)})",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        f"    at async /app/src/lib/api.js:{r.randint(10, 90)}:{r.randint(3, 30)}",
    ]
    return typ, msg, "\n".join(lines)
