"""advisor: a rule-based GPU procurement advisor for LLM inference.

The CLI (advisor.cli) is a thin layer over these modules, which can be imported directly:
catalogs (GPU and model data), costmodel (the roofline and cost arithmetic), and render.
"""

__version__ = "0.1.0"
