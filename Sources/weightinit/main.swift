import ArgumentParser

// The SIGINT/SIGTERM handler first, before anything that takes time (the kernel checks below
// read /proc/cpuinfo and may re-exec): an interrupt at any later point exits 130 with
// "interrupted before anything completed" instead of dying from the signal (143).
Interrupt.install()
// OPENBLAS_CORETYPE naming a kernel this CPU cannot run (SkylakeX without AVX-512): exit 64
// before OpenBLAS runs any kernel (it would die with SIGILL).
KernelRelaunch.refuseUnsupportedCoreType()
// Re-launch once with the right OPENBLAS_CORETYPE when OpenBLAS fell back to a generic
// kernel (see the README, "OpenBLAS on this hardware"); never overrides a value already set.
KernelRelaunch.relaunchIfNeeded()
Runner.main()
