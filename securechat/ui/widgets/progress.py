"""What a backup or a restore is doing: its stage in words and how far it got."""

from __future__ import annotations

from PyQt6.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from securechat.ui import strings as S
from securechat.ui.plaintext import plain_label

STEPS = 1000  # the bar's resolution


class StageProgress(QWidget):
    """Fed `report(stage, done, total)` as the core calls its `progress`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stage = plain_label()
        self.stage.setObjectName("muted")
        self.bar = QProgressBar()
        self.bar.setRange(0, STEPS)
        layout.addWidget(self.stage)
        layout.addWidget(self.bar)
        self.stages: list[str] = []  # the stages reported, in order (tests, tooling)
        self.hide()

    def start(self) -> None:
        self.stages = []
        self.bar.setValue(0)
        self.stage.clear()
        self.show()

    def report(self, stage: str, done: int, total: int) -> None:
        if not self.stages or self.stages[-1] != stage:
            self.stages.append(stage)
        self.stage.setText(S.BACKUP_STAGES.get(stage, stage))
        self.bar.setValue(STEPS * done // total if total > 0 else STEPS)

    def finish(self) -> None:
        self.hide()
