// The bound on a carried run, shared by both sides: the server copies a run's rows and reads back
// their paths in one transaction, so a run's size bounds that work and the memory it takes.
export const MAX_CARRIED_RUN = 4096;
