import ArgumentParser

// Re-launch once with the right OPENBLAS_CORETYPE when OpenBLAS fell back to a generic
// kernel (see the README, "OpenBLAS on this hardware"); never overrides a value already set.
KernelRelaunch.relaunchIfNeeded()
Runner.main()
