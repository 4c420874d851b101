"""Testing a trained model: the multi-view evaluator, the scoring rules (view ensembles, FFC
vote), video-level metrics, results files and the report rank 0 writes."""
