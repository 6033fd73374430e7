"""The ML stack the dispatcher imports once before forking workers (fork launch mode).

peft imports bitsandbytes (and with it torch._dynamo) when it is installed, so it is warm too.
"""
import torch  # noqa: F401
import transformers  # noqa: F401
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
import peft  # noqa: F401
