/* dgm info: what a model file holds. */
#include "cli.h"

#include <stdlib.h>

int cmd_info(int argc, char **argv)
{
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {CLI_COMMON_OPTS(&c)};
    const char *pos[1];
    int np;
    int r = cli_parse("info", "MODEL [options]", "Describe a model file.", argc, argv, table,
                      (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("info", "a model file is required (dgm info MODEL)");
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err("info", &err);
    char *d = dgm_model_describe(m);
    cJSON *o = cJSON_Parse(d);
    free(d);
    const char *st = dgm_model_train_state(m);
    if (st)
        cJSON_AddItemToObject(o, "train_state", cJSON_Parse(st));
    cJSON_AddStringToObject(o, "file", pos[0]);
    if (c.json) {
        cli_print_json(o);
    } else {
        char *txt = cJSON_Print(o);
        printf("%s\n", txt);
        free(txt);
        cJSON_Delete(o);
    }
    dgm_model_free(m);
    return 0;
}
