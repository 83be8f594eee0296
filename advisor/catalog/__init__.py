"""What the hardware and the models are: sourced data from the YAML catalogs, validated.

May import: the root modules (errors, yamlio, resources, defaults) and pydantic; nothing above.
Modules: ``precisions`` (what each precision stores and computes with; no pydantic, so that the
CLI starts fast), ``sourced`` (figures with their sources), ``hardware`` (GPUs), ``models``,
``efficiency`` (the few constants of the model), ``load`` (the catalog files into a Catalog).
A new GPU or model is a YAML entry under rules/catalogs/, not code.
"""
