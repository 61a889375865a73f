"""What a run produces: one `Figure` per line of the report, plus free-form notes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """A measured value and what it is judged against.

    `higher_is_better` figures (throughputs) pass when value/reference >= target_ratio;
    latencies pass when value <= reference (the ratio shown is value/reference).
    Ceiling rows (`is_ceiling`) and plain readings have no reference.
    """

    backend: str
    name: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_name: str = ""
    higher_is_better: bool = True
    target_ratio: float | None = None
    is_ceiling: bool = False

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.reference:
            return None
        return self.value / self.reference

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        if ratio is None or self.target_ratio is None:
            return None
        return ratio >= self.target_ratio if self.higher_is_better else ratio <= self.target_ratio


@dataclass
class BackendResult:
    backend: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # Seam misbehaviour seen by the harness
    seconds: float = 0.0

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def figure(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name), None)
