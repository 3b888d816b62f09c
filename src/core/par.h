/* The one threshold for opening an OpenMP parallel region. */
#ifndef DGM_CORE_PAR_H
#define DGM_CORE_PAR_H

/* Smallest amount of work (elements or multiply-adds) worth an OpenMP parallel region:
 * below it a loop runs on one thread. Tests and small data make many short regions, and on
 * a busy machine each one can wait a scheduler time slice at its barrier. */
#define DGM__PAR_MIN 65536

#endif
