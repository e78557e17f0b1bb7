// WeightInit: the umbrella module. `import WeightInit` gives the whole package.
@_exported import MatrixModule
@_exported import Initializers
@_exported import NeuralNetwork
@_exported import Datasets
@_exported import TensorFiles
