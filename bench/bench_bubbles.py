"""Laying out and painting long message bubbles (issue 11: long words wrap anywhere).

Run from the repository root::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.bench_bubbles [--repeat 50]

Measured: a 60,000-character message (words, and one 2,000-character unbroken token)
laid out to a 600 px bubble by `securechat.ui.textlayout` (QTextLayout, wrapping at
word boundaries or anywhere): the first layout, then repeated paints into an image
(what scrolling past it costs: laid out once, drawn from the cache). Reference, same
run: what the client did before, `QFontMetrics.boundingRect` with word wrap (which cuts
the long token instead of wrapping it) and `QPainter.drawText` of the same text.
Printed: milliseconds per operation and the ratio to the reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

WIDTH = 600


def best_of(repeat: int, fn: object) -> float:
    """The best of `repeat` runs of `fn()`, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QRect, Qt
    from PyQt6.QtGui import QFontMetrics, QImage, QPainter
    from PyQt6.QtWidgets import QApplication

    import securechat.ui.textlayout as textlayout

    app = QApplication(sys.argv[:1])
    font = app.font()
    words = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 1000)[:58_000]
    text = words + " " + "x" * 2000
    image = QImage(WIDTH + 40, 20_000, QImage.Format.Format_ARGB32)

    def fresh_layout() -> None:
        textlayout._cache.clear()
        textlayout.text_size(font, text, WIDTH)

    def paint_new() -> None:
        p = QPainter(image)
        textlayout.draw_text(p, font, text, 0, 0, WIDTH)
        p.end()

    def paint_old() -> None:
        p = QPainter(image)
        p.drawText(QRect(0, 0, WIDTH, 100_000), int(Qt.TextFlag.TextWordWrap), text)
        p.end()

    def measure_old() -> None:
        QFontMetrics(font).boundingRect(QRect(0, 0, WIDTH, 100_000),
                                        int(Qt.TextFlag.TextWordWrap), text)

    first = best_of(max(3, args.repeat // 10), fresh_layout)
    textlayout.text_size(font, text, WIDTH)  # in the cache, as after the first paint
    cached = best_of(args.repeat, lambda: textlayout.text_size(font, text, WIDTH))
    paint = best_of(args.repeat, paint_new)
    ref_measure = best_of(max(3, args.repeat // 10), measure_old)
    ref_paint = best_of(max(3, args.repeat // 10), paint_old)
    size = textlayout.text_size(font, text, WIDTH)
    old = QFontMetrics(font).boundingRect(QRect(0, 0, WIDTH, 100_000),
                                          int(Qt.TextFlag.TextWordWrap), text)
    print(f"60,000 characters at {WIDTH} px: {size.height()} px high "
          f"(reference: {old.height()} px, {old.width()} px wide: the long token cut)")
    print(f"first layout      {first:8.2f} ms   reference measure {ref_measure:8.2f} ms   "
          f"ratio {first / ref_measure:5.2f}")
    print(f"layout, cached    {cached:8.3f} ms")
    print(f"paint (cached)    {paint:8.2f} ms   reference paint   {ref_paint:8.2f} ms   "
          f"ratio {paint / ref_paint:5.2f}")
    app.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
