// NeuralNetwork module (in progress).
