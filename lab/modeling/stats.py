"""Small statistics shared by the tabs that report an accuracy (Prompting, Evaluate)."""
import math


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy: sound at 0% and 100% and for 20 questions, unlike p +- 2 SE
    (Wilson 1927, "Probable inference, the law of succession, and statistical inference")."""
    if total == 0:
        return 0.0, 0.0
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)
