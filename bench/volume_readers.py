"""REST client of the volume benchmark (bench/volume.sh). Standard library only (threads and
http.client keep-alive connections); only `total`/`wait-total`, when the REST /health answer has
no `total_executions`, fall back to the gRPC GetHealth of the project's .venv stubs (run them with
the .venv python, scripts/python-env.sh).

  read HOST:PORT [--readers 16] [--secs 5] [--agent agent-07] [--task-type T] [--only I] [--count]
      every read endpoint in turn, READERS threads each with its own keep-alive connection, for
      SECS seconds; one line per endpoint: path, requests, errors, p50 ms, p99 ms (a non-2xx
      answer is an error; the first error body of each endpoint is printed)
  wait-ready HOST:PORT --pid PID --since EPOCH [--interval 0.5] [--timeout 1800] [--log FILE]
      polls GET /status until learning_system is not `starting`; logs every answer (and the
      server's VmRSS) to FILE; prints: seconds-since-EPOCH state rss-at-completion-MiB peak-MiB
  total HOST:PORT          prints: total_executions source
  wait-total HOST:PORT TARGET [--interval 0.25] [--timeout 900] [--exact]
      polls the total until it reaches (--exact: equals) TARGET; prints: epoch-reached value
      source polls
  compare HOST:PORT --sql-total N --sql-agents FILE --sql-types FILE
      the service's counts (health total, /analytics/performance total, agents[].executions,
      task_types[].executions) against SQL's (FILE: name<TAB>count lines); prints the mismatches
      and a last line `mismatches: K OK|FAIL`
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

STATUS_KEYS = {"learning_system", "database", "agents_registered", "performance", "ml_models"}


def split(target):
    host, _, port = target.rpartition(":")
    return host, int(port)


def get_json(target, path, timeout=600):
    host, port = split(target)
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        if r.status // 100 != 2:
            raise RuntimeError("GET %s: HTTP %d %s" % (path, r.status, body[:300]))
        return json.loads(body)
    finally:
        c.close()


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


# --- total_executions -----------------------------------------------------------------------

_grpc_stub = None


def grpc_total(target):
    global _grpc_stub
    if _grpc_stub is None:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv", "gen"))
        import grpc  # noqa: E402
        from learning.v1 import learning_pb2 as pb  # noqa: E402
        from learning.v1 import learning_pb2_grpc as pbg  # noqa: E402
        channel = grpc.insecure_channel(target)
        _grpc_stub = (pbg.LearningSystemStub(channel), pb)
    stub, pb = _grpc_stub
    return stub.GetHealth(pb.GetHealthRequest(), timeout=60).total_executions


def total(target):
    """total_executions of REST /health when it has one, else of the gRPC GetHealth."""
    health = get_json(target, "/health")
    if "total_executions" in health:
        return int(health["total_executions"]), "rest:/health"
    return int(grpc_total(target)), "grpc:GetHealth"


def cmd_total(a):
    value, source = total(a.target)
    print(value, source)


def cmd_wait_total(a):
    deadline = time.time() + a.timeout
    polls = 0
    log = open(a.log, "a") if a.log else None
    while True:
        polls += 1
        try:
            value, source = total(a.target)
        except Exception as e:  # the server may be busy; keep polling
            value, source = -1, "error:%s" % e
        now = time.time()
        if log:
            log.write("%.3f %d\n" % (now, value))
            log.flush()
        reached = value == a.wanted if a.exact else value >= a.wanted
        if reached or now > deadline:
            print("%.3f %d %s %d" % (now, value, source.split()[0], polls))
            return 0 if reached else 1
        time.sleep(max(0.0, a.interval - (time.time() - now)))


# --- start-up -------------------------------------------------------------------------------

def cmd_wait_ready(a):
    deadline = a.since + a.timeout
    peak = 0.0
    state = "unreachable"
    log = open(a.log, "a") if a.log else None
    while True:
        now = time.time()
        rss = rss_mib(a.pid)
        peak = max(peak, rss)
        try:
            status = get_json(a.target, "/status", timeout=30)
            state = status.get("learning_system", "?")
            extra = {k: v for k, v in status.items() if k not in STATUS_KEYS}
            line = "%.1f\t%s\trss=%.1f\tml_models=%s%s" % (
                now - a.since, state, rss, json.dumps(status.get("ml_models"), separators=(",", ":")),
                ("\textra=" + json.dumps(extra, separators=(",", ":"))) if extra else "")
        except Exception as e:
            state = "unreachable"
            line = "%.1f\tunreachable (%s)\trss=%.1f" % (now - a.since, e, rss)
        if log:
            log.write(line + "\n")
            log.flush()
        if state not in ("starting", "unreachable") or now > deadline:
            print("%.1f %s %.1f %.1f" % (now - a.since, state, rss, peak))
            return 0 if state not in ("starting", "unreachable") else 1
        time.sleep(max(0.0, a.interval - (time.time() - now)))


# --- reads ----------------------------------------------------------------------------------

def endpoints(agent, task_type):
    predict = json.dumps({"agent_name": agent, "task_type": task_type}).encode()
    return [
        ("GET", "/health", None),
        ("GET", "/status", None),
        ("GET", "/metrics", None),
        ("GET", "/agents/list", None),
        ("GET", "/agents/%s/status" % agent, None),
        ("GET", "/agents/%s/performance" % agent, None),
        ("GET", "/agents/%s/similar" % agent, None),
        ("GET", "/analytics/performance", None),
        ("GET", "/analytics/performance?window_hours=24", None),
        ("GET", "/analytics/coordination", None),
        ("GET", "/analytics/insights", None),
        ("GET", "/analytics/anomalies", None),
        ("GET", "/patterns", None),
        ("GET", "/recommendations?task_type=%s" % task_type, None),
        ("POST", "/predict", predict),
    ]


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def run_endpoint(target, method, path, body, readers, secs):
    host, port = split(target)
    lock = threading.Lock()
    latencies, errors, first_error = [], [0], [None]
    stop_at = time.perf_counter() + secs
    headers = {"content-type": "application/json"} if body is not None else {}

    def reader():
        conn = http.client.HTTPConnection(host, port, timeout=600)
        mine, errs, err_body = [], 0, None
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                dt = time.perf_counter() - t0
                mine.append(dt)
                if r.status // 100 != 2:
                    errs += 1
                    if err_body is None:
                        err_body = "HTTP %d %s" % (r.status, data[:400].decode("utf-8", "replace"))
            except Exception as e:
                errs += 1
                if err_body is None:
                    err_body = "exception %r" % e
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=600)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += errs
            if first_error[0] is None and err_body is not None:
                first_error[0] = err_body

    started = time.perf_counter()
    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return len(latencies), errors[0], percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, wall, first_error[0]


HEADER = "%-42s %9s %7s %10s %10s %8s" % ("endpoint", "requests", "errors", "p50_ms", "p99_ms", "req/s")


def cmd_read(a):
    chosen = endpoints(a.agent, a.task_type)
    if a.count:
        print(len(chosen))
        return
    if a.header:
        print(HEADER)
        return
    if a.only is not None:
        chosen = [chosen[a.only]]
    if not a.no_header:
        print(HEADER)
    for method, path, body in chosen:
        n, errs, p50, p99, wall, first = run_endpoint(a.target, method, path, body, a.readers, a.secs)
        name = ("POST " if method == "POST" else "") + path
        print("%-42s %9d %7d %10.2f %10.2f %8.1f" % (name, n, errs, p50, p99, n / wall if wall > 0 else 0), flush=True)
        if first:
            print("    first error: %s" % first.replace("\n", " "), flush=True)


# --- correctness ----------------------------------------------------------------------------

def read_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name, _, n = line.rpartition("\t")
            counts[name] = int(n)
    return counts


def cmd_compare(a):
    mismatches = []
    health_total, source = total(a.target)
    if health_total != a.sql_total:
        mismatches.append("total_executions (%s): service %d, SQL %d" % (source, health_total, a.sql_total))
    perf = get_json(a.target, "/analytics/performance")
    if int(perf.get("total_executions", -1)) != a.sql_total:
        mismatches.append("/analytics/performance total_executions: service %s, SQL %d" % (perf.get("total_executions"), a.sql_total))
    for label, key, name_key, path in (("agent", "agents", "agent_name", a.sql_agents),
                                       ("task type", "task_types", "task_type", a.sql_types)):
        sql = read_counts(path)
        service = {row[name_key]: int(row["executions"]) for row in perf.get(key, [])}
        for name in sorted(set(sql) | set(service)):
            s, q = service.get(name), sql.get(name)
            if s != q:
                mismatches.append("%s %s: service %s, SQL %s" % (label, name, s, q))
        print("%s: service lists %d, SQL %d; service sum %d, SQL sum %d" % (
            key, len(service), len(sql), sum(service.values()), sum(sql.values())))
    print("total_executions: %s %d, /analytics/performance %s, SQL count(*) %d" % (
        source, health_total, perf.get("total_executions"), a.sql_total))
    for m in mismatches[:20]:
        print("  mismatch: " + m)
    if len(mismatches) > 20:
        print("  ... %d more" % (len(mismatches) - 20))
    print("mismatches: %d %s" % (len(mismatches), "OK" if not mismatches else "FAIL"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("read")
    r.add_argument("target")
    r.add_argument("--readers", type=int, default=16)
    r.add_argument("--secs", type=float, default=5)
    r.add_argument("--agent", default="agent-07")
    r.add_argument("--task-type", default="code_review")
    r.add_argument("--only", type=int, help="only the endpoint of this index (0-based)")
    r.add_argument("--count", action="store_true", help="print how many endpoints there are")
    r.add_argument("--no-header", action="store_true")
    r.add_argument("--header", action="store_true", help="print the table's header only")
    r.set_defaults(fn=cmd_read)
    w = sub.add_parser("wait-ready")
    w.add_argument("target")
    w.add_argument("--pid", type=int, required=True)
    w.add_argument("--since", type=float, required=True)
    w.add_argument("--interval", type=float, default=0.5)
    w.add_argument("--timeout", type=float, default=1800)
    w.add_argument("--log")
    w.set_defaults(fn=cmd_wait_ready)
    t = sub.add_parser("total")
    t.add_argument("target")
    t.set_defaults(fn=cmd_total)
    wt = sub.add_parser("wait-total")
    wt.add_argument("target")
    wt.add_argument("wanted", type=int)
    wt.add_argument("--interval", type=float, default=0.25)
    wt.add_argument("--timeout", type=float, default=900)
    wt.add_argument("--log", help="append: epoch total, every poll")
    wt.add_argument("--exact", action="store_true", help="until the total equals TARGET (not just reaches it)")
    wt.set_defaults(fn=cmd_wait_total)
    c = sub.add_parser("compare")
    c.add_argument("target")
    c.add_argument("--sql-total", type=int, required=True)
    c.add_argument("--sql-agents", required=True)
    c.add_argument("--sql-types", required=True)
    c.set_defaults(fn=cmd_compare)
    a = p.parse_args()
    sys.exit(a.fn(a) or 0)


if __name__ == "__main__":
    main()
