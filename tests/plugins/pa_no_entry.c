/* A shared object without the entry symbol: the host must say it is not a pa plugin. */
int pa_not_the_entry(void) { return 42; }
