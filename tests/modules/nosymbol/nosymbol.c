/*
 * nosymbol.c - a shared object that is not a facteur module: it exports
 * no fc_module_nosymbol descriptor. The loader must say so.
 */
int nosymbol_answer(void);

int
nosymbol_answer(void)
{
	return 42;
}
