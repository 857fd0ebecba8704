"""Pure data steps: fetch, validate, split, scale, window, evaluate, plot."""
