// swift-tools-version:6.0
// WeightInit — parameter initialization and a BLAS-backed numerical backend for training code in Swift.
import PackageDescription

let package = Package(
    name: "WeightInit",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "WeightInit", targets: ["WeightInit"]),
        .library(name: "MatrixModule", targets: ["MatrixModule"]),
        .library(name: "Initializers", targets: ["Initializers"]),
        .library(name: "NeuralNetwork", targets: ["NeuralNetwork"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "TensorFiles", targets: ["TensorFiles"]),
        // MPI (Open MPI): communicators, sharded initialization, data-parallel training. Not part of the
        // umbrella product: the core products build on machines without libopenmpi-dev.
        .library(name: "Distributed", targets: ["Distributed"]),
        .executable(name: "weightinit", targets: ["weightinit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            path: "Modules/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Modules/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Open MPI through pkg-config ompi-c; imported by the Distributed target only.
        .systemLibrary(
            name: "COpenMPI",
            path: "Modules/COpenMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        // Philox4x32-10 and the distribution kernels, with per-function `target` attributes chosen at run time.
        .target(name: "CFillKernels", path: "Sources/CFillKernels"),
        // A packed gemm whose bytes do not depend on the thread split (the thread-invariant QR of orthogonal init).
        .target(name: "CGemmKernels", path: "Sources/CGemmKernels"),
        .target(name: "MatrixModule", dependencies: ["COpenBLAS", "CGemmKernels"]),
        .target(name: "Initializers", dependencies: ["MatrixModule", "CFillKernels"]),
        .target(name: "NeuralNetwork", dependencies: ["MatrixModule", "Initializers", "Datasets", "TensorFiles"]),
        .target(name: "Datasets", dependencies: ["CZlib"]),
        // safetensors and .npy (validated mmap readers, streaming writers) and the one atomic output writer.
        .target(name: "TensorFiles"),
        .target(name: "WeightInit", dependencies: ["MatrixModule", "Initializers", "NeuralNetwork", "Datasets", "TensorFiles"]),
        .target(name: "Distributed", dependencies: ["COpenMPI", "MatrixModule", "Initializers", "NeuralNetwork", "Datasets", "TensorFiles"]),
        .executableTarget(
            name: "weightinit",
            dependencies: [
                "WeightInit",
                "Distributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "MatrixModuleTests", dependencies: ["MatrixModule"]),
        .testTarget(name: "InitializersTests", dependencies: ["Initializers", "MatrixModule"]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["NeuralNetwork", "Initializers", "MatrixModule", "Datasets", "TensorFiles"], exclude: ["python"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"]),
        .testTarget(name: "TensorFilesTests", dependencies: ["TensorFiles"], exclude: ["python"]),
        // Run by the Distributed tests under mpirun (sharded fills, collectives, failures, training).
        .executableTarget(name: "DistributedHarness", dependencies: ["Distributed", "Initializers", "MatrixModule", "NeuralNetwork", "TensorFiles"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Initializers", "MatrixModule", "NeuralNetwork", "TensorFiles"]),
        .testTarget(name: "weightinitTests", dependencies: ["weightinit", "WeightInit"]),
    ]
)
