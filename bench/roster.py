"""A synthetic social-insurance roster of N rows with valid social credit codes, for the import benchmark.

``python -m bench.roster N PATH`` writes one (UTF-8 with a BOM, the headers of ../shared/data).
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path

from stdnum.cn import uscc

from api.demo import STREETS

HEADER = ["统一社会信用代码", "单位名称", "所属镇街", "行业", "参保人数", "成立日期", "是否已建会", "联系人",
          "联系电话"]
INDUSTRIES = ["泵与电机", "鞋业", "水产加工", "机电", "塑料", "包装印刷", "物流", "餐饮"]
WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organisation_code(serial: int) -> str:
    body = f"{serial:08d}"
    remainder = 11 - sum(int(ch) * weight for ch, weight in zip(body, WEIGHTS, strict=True)) % 11
    return body + ("X" if remainder == 10 else "0" if remainder == 11 else str(remainder))


def credit_code(serial: int) -> str:
    stem = "91331081" + organisation_code(serial)
    return stem + uscc.calc_check_digit(stem)


def write(rows: int, path: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for serial in range(1, rows + 1):
            founded = date(2000, 1, 1) + timedelta(days=rng.randrange(0, 9400))
            writer.writerow([credit_code(10_000_000 + serial), f"温岭市测试{serial}有限公司",
                             rng.choice(STREETS)[1], rng.choice(INDUSTRIES), rng.randrange(3, 400),
                             founded.isoformat(), rng.choice(["是", "否", "否"]), f"联系人{serial}",
                             f"0576-8{rng.randrange(100000, 999999)}"])
    return path


if __name__ == "__main__":
    write(int(sys.argv[1]), Path(sys.argv[2]))
