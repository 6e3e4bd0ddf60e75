"""The capacity arithmetic of docs/scaling.md, in one place to rerun and check.

    python3 scripts/capacity_model.py            # the doc's inputs
    python3 scripts/capacity_model.py --orders-per-day 5e6

Inputs marked "measured" come from this repository's measurements (issue #11,
docs/benchmarks.md, scripts/partition_demo.py); inputs marked "assumed" are
stated guesses about a platform of 美团优选's size, to be replaced by real
traffic data. No dependencies beyond the standard library.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter

# Share of a day's orders per hour (Asia/Shanghai), assumed: community group
# buying sells all day for next-day pickup and peaks in the evening before the
# 23:00 cutoff; nothing is ordered after the cutoff until midnight.
HOURLY_SHARE = {
    0: 0.5, 1: 0.2, 2: 0.1, 3: 0.1, 4: 0.1, 5: 0.3, 6: 1.5, 7: 3.5, 8: 4.5, 9: 4.5,
    10: 4.5, 11: 5.0, 12: 6.0, 13: 5.0, 14: 4.0, 15: 4.0, 16: 4.5, 17: 5.5, 18: 6.5,
    19: 8.0, 20: 10.0, 21: 11.5, 22: 14.0, 23: 0.1,
}  # fmt: skip
# Within the peak hour, the last minutes before the cutoff: the busiest minute
# at this multiple of the hour's mean (assumed).
PEAK_MINUTE_OVER_HOUR = 1.6

# Measured (scripts/partition_demo.py on 100,000 generated orders, 2.5 lines
# each; orders 6 indexes, lines 3; PostgreSQL 15).
ORDER_AND_LINES_BYTES = 1039  # heap + indexes on disk, per order
WAL_INSERT_PER_ORDER = 1767  # order + lines rows and their index entries
WAL_PER_STATUS_UPDATE = 1008  # one UPDATE of the order row (non-HOT: status is indexed)
STATUS_UPDATES_PER_ORDER = 4  # paid, confirmed, ready, completed
# Assumed: the other rows an order writes (payment, ~5 order events, stock
# ledger and stock rows per line, a notice, a commission entry) as much WAL
# and disk again as the order and lines; full-page images after checkpoints
# add up to as much again (x1.0 .. x2.0).
OTHER_ROWS_FACTOR = 2.0
FPI_FACTOR = (1.0, 2.0)
# The real orders_order has 10 indexes, the demo copy 6: +30 % on disk (assumed).
REAL_INDEX_FACTOR = 1.3

# Measured (issue #11, before the hot-path work): the whole shopper flow runs
# 93 SQL statements (+6 health-check SELECT 1, one per request) and manages
# 18.6 flows/s on 2 cores, i.e. ~107 ms of CPU per flow; the home page 146
# req/s anonymous (~13.7 ms) with 6 statements. Targets of issue #11: 25
# statements per flow, ~100 flows/s (20 ms), home at half the bare view's
# 1,941 req/s (~2 ms).
FLOW = {
    "now": {"statements": 99, "cpu_ms": 2000 / 18.6, "page_cpu_ms": 2000 / 146, "page_sql": 6},
    "target": {"statements": 25, "cpu_ms": 2000 / 100, "page_cpu_ms": 2000 / 970, "page_sql": 2},
}
PAGES_PER_ORDER = 20  # assumed: browsing (home, product, category) per order placed
CORES_PER_NODE = 16
HEADROOM = 2.0  # run nodes at half their CPU at the peak minute


def peak_rates(orders_per_day: float) -> dict[str, float]:
    total = sum(HOURLY_SHARE.values())
    peak_hour = max(HOURLY_SHARE, key=HOURLY_SHARE.get)
    peak_hour_rate = orders_per_day * HOURLY_SHARE[peak_hour] / total / 3600
    return {
        "average": orders_per_day / 86400,
        "peak_hour": peak_hour,
        "peak_hour_rate": peak_hour_rate,
        "peak_minute_rate": peak_hour_rate * PEAK_MINUTE_OVER_HOUR,
    }


def shard_balance(
    orders_per_second: float, warehouses: int, nodes: int, shards: int, seed: int = 11
) -> dict[str, float]:
    """Orders spread over warehouses by a Zipf law (a few big cities, a long
    tail), warehouses hashed to shards, shards placed round-robin on nodes
    (Citus' default). Returns the busiest node's share against the mean."""
    weights = [1 / rank for rank in range(1, warehouses + 1)]
    total = sum(weights)
    rng = random.Random(seed)
    shard_of = {w: rng.randrange(shards) for w in range(warehouses)}
    per_node = Counter()
    for w, weight in enumerate(weights):
        per_node[shard_of[w] % nodes] += orders_per_second * weight / total
    busiest = max(per_node.values())
    return {
        "biggest_warehouse_rate": orders_per_second * weights[0] / total,
        "busiest_node_rate": busiest,
        "mean_node_rate": orders_per_second / nodes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders-per-day", type=float, default=20e6)
    parser.add_argument("--warehouses", type=int, default=2000)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--shards", type=int, default=64)
    args = parser.parse_args()
    n = args.orders_per_day

    rates = peak_rates(n)
    peak = rates["peak_minute_rate"]
    print(f"Orders per day: {n:,.0f}")
    print(f"  average rate:            {rates['average']:8,.0f} orders/s")
    print(
        f"  peak hour ({rates['peak_hour']}:00-{rates['peak_hour'] + 1}:00): "
        f"{rates['peak_hour_rate']:8,.0f} orders/s"
    )
    print(
        f"  peak minute:             {peak:8,.0f} orders/s"
        f"  ({peak / rates['average']:.1f} x the average)"
    )

    print("\nSQL and CPU at the peak minute (order flow + browsing):")
    for name, flow in FLOW.items():
        statements = peak * (flow["statements"] + PAGES_PER_ORDER * flow["page_sql"])
        cpu_cores = peak * (flow["cpu_ms"] + PAGES_PER_ORDER * flow["page_cpu_ms"]) / 1000
        nodes = cpu_cores * HEADROOM / CORES_PER_NODE
        print(
            f"  {name:6}: {statements:9,.0f} statements/s, {cpu_cores:6,.0f} cores of"
            f" Python, {nodes:4.0f} web nodes of {CORES_PER_NODE} cores at 50 %"
        )

    wal_order = (
        WAL_INSERT_PER_ORDER + STATUS_UPDATES_PER_ORDER * WAL_PER_STATUS_UPDATE
    ) * OTHER_ROWS_FACTOR
    low, high = (wal_order * f for f in FPI_FACTOR)
    print(f"\nWAL per order: {low / 1024:.1f}-{high / 1024:.1f} KiB")
    print(f"  per day:      {n * low / 1e9:,.0f}-{n * high / 1e9:,.0f} GB")
    print(f"  peak minute:  {peak * low / 1e6:,.1f}-{peak * high / 1e6:,.1f} MB/s")
    disk = ORDER_AND_LINES_BYTES * REAL_INDEX_FACTOR * OTHER_ROWS_FACTOR
    print(f"\nDisk per order (rows + indexes, related rows): {disk / 1024:.1f} KiB")
    print(f"  per day:  {n * disk / 1e9:,.0f} GB; 90 days kept hot: {90 * n * disk / 1e12:,.1f} TB")

    balance = shard_balance(peak, args.warehouses, args.nodes, args.shards)
    print(
        f"\nCitus, distributed by warehouse_id ({args.warehouses:,} warehouses, Zipf;"
        f" {args.shards} shards on {args.nodes} nodes):"
    )
    print(f"  the biggest warehouse:  {balance['biggest_warehouse_rate']:6,.0f} orders/s")
    print(
        f"  busiest node:           {balance['busiest_node_rate']:6,.0f} orders/s"
        f" (mean {balance['mean_node_rate']:,.0f})"
    )


if __name__ == "__main__":
    main()
