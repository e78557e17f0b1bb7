#ifndef WEIGHTINIT_COPENMPI_SHIM_H
#define WEIGHTINIT_COPENMPI_SHIM_H
// Open MPI's C interface (mpi.h, found through pkg-config ompi-c) and static inline accessors for
// the handle macros Swift cannot import: Open MPI defines MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …
// as addresses of predefined global objects cast to handle types, and MPI_IN_PLACE as
// ((void *) 1). Only the Distributed target imports this module.
#include <mpi.h>

static inline MPI_Comm wi_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Errhandler wi_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }

static inline MPI_Datatype wi_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype wi_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype wi_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype wi_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype wi_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype wi_mpi_uint64(void) { return MPI_UINT64_T; }

static inline MPI_Op wi_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op wi_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op wi_mpi_min(void) { return MPI_MIN; }

static inline void *wi_mpi_in_place(void) { return MPI_IN_PLACE; }

static inline int wi_mpi_success(void) { return MPI_SUCCESS; }
static inline int wi_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int wi_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
#endif
