"""Kind "demo": counts steps with a pause and a made-up loss curve. It imports no torch, so the
runner (queueing, cancel, crash, recovery, cache) can be tried and tested in seconds."""
import math
import subprocess
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.specs import KINDS, Kind, Spec, setting


@dataclass
class DemoSpec(Spec):
    kind = "demo"
    needs_torch = False

    steps: int = setting(10, en="How many steps to count.", zh="计数的步数。", minimum=1, maximum=100000)
    step_seconds: float = setting(0.1, en="Pause per step, in seconds.", zh="每一步停顿的秒数。", minimum=0.0, maximum=60.0)
    fail_at_step: int = setting(0, en="Crash on purpose at this step (0: never), to see how failures are shown.",
                                zh="在这一步故意出错(0 表示不出错),用来观察失败如何显示。", minimum=0)

    child_process: bool = setting(False, en="Start a helper process that just waits, to show that cancel stops the whole process tree.",
                                  zh="启动一个只等待的子进程,用来演示取消会终止整个进程树。")

    def validate(self):
        if self.fail_at_step > self.steps:
            raise LabError("field_greater", field="fail_at_step", value=self.fail_at_step, other="steps", other_value=self.steps)


def run(spec: DemoSpec, ctx) -> dict:
    loss = 0.0
    if spec.child_process:
        child = subprocess.Popen(["sleep", "600"])  # an argument list, never a shell
        ctx.log(f"child process {child.pid}")
    for step in range(1, spec.steps + 1):
        if step == spec.fail_at_step:
            raise RuntimeError(f"demo failure at step {step}")
        time.sleep(spec.step_seconds)
        loss = 2.0 * math.exp(-step / max(1, spec.steps / 3)) + 0.5 + 0.01 * ((spec.seed + step) % 7)
        ctx.log_metrics(step=step, loss=round(loss, 4))
        ctx.progress(step, spec.steps, message=f"step {step}/{spec.steps}", loss=round(loss, 4))
    ctx.log(f"counted {spec.steps} steps")
    return {"steps": spec.steps, "final_loss": round(loss, 4), "summary": f"counted {spec.steps} steps"}


KINDS.register(DemoSpec.kind, Kind(DemoSpec, run))
