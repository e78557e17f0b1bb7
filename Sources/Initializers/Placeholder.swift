// Initializers module (in progress).
