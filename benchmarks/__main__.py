"""Run every benchmark and print its figures."""

from __future__ import annotations

from benchmarks import fanout


def main() -> None:
    fanout.main()


if __name__ == "__main__":
    main()
