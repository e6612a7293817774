"""The learned classifier, a package of its jobs: `model` (TF-IDF and a calibrated linear model, the artifact
format; no Django), `runtime` (the active version as the chain uses it, loaded once per process) and
`training` (labels, the time split, measuring, promotion and roll back)."""
