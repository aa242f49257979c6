"""What the web UI benchmarks share: signing in through the form, and timing pages in-process (wall and CPU)."""
from __future__ import annotations

import statistics
import time

PASSWORD = "correct horse battery staple"
TARGET_MS = 50.0


def sign_in(client, email: str) -> None:
    """Sign in through the form, as a browser does."""
    token = client.get("/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"csrf": token, "email": email, "password": PASSWORD, "next": "/"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


def time_pages(client, paths: list[str], repeat: int, width: int = 52, *, aside: str = "",
               counted=lambda path: True) -> None:
    """Ask for each page `repeat` times; print the median and 95th percentile wall time, the median CPU time of
    this process and the page's size, then the slowest page against the target (pages answering 200 that are
    `counted`; `aside` says in words which are not, e.g. "CSV downloads aside")."""
    worst = 0.0
    print(f"{'page':{width}} {'status':>6} {'wall median':>11} {'wall p95':>9} {'CPU median':>10}  (ms) {'size':>9}")
    for path in paths:
        size = len(client.get(path).content)  # templates compiled, caches warm
        walls, cpus, status = [], [], 0
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            status = client.get(path).status_code
            walls.append((time.perf_counter() - start) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        walls.sort()
        p95 = walls[min(len(walls) - 1, int(len(walls) * 0.95))]
        if status == 200 and counted(path):
            worst = max(worst, statistics.median(cpus))
        shown = path if len(path) <= width else path[:width - 3] + "..."
        print(f"{shown:{width}} {status:>6} {statistics.median(walls):>11.1f} {p95:>9.1f} "
              f"{statistics.median(cpus):>10.1f}       {size:>9,}")
    print(f"slowest page (median CPU time, pages answering 200{', ' + aside if aside else ''}): {worst:.1f} ms; "
          f"target {TARGET_MS:.0f} ms: "
          f"{'met' if worst <= TARGET_MS else 'NOT met'}")
