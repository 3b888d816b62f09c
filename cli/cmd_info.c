/* dgm info: what a model file holds: its type and configuration (dgm_model_describe), the
 * training state where the file is a checkpoint, and the tensors with their shapes. Plain
 * text by default, one JSON object with --json. */
#include "cli.h"
#include "dgm_blocks.h"

#include <stdlib.h>
#include <string.h>

/* "key: value" lines; nested objects as "outer.inner"; long arrays cut at 72 chars */
static void print_fields(const cJSON *o, const char *prefix)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        char key[128];
        snprintf(key, sizeof key, "%s%s", prefix, it->string);
        if (cJSON_IsObject(it)) {
            char sub[130];
            snprintf(sub, sizeof sub, "%s.", key);
            print_fields(it, sub);
            continue;
        }
        char *v = cJSON_IsString(it) ? strdup(it->valuestring) : cJSON_PrintUnformatted(it);
        if (!v)
            continue;
        if (strlen(v) > 72)
            strcpy(v + 66, " ...");
        printf("  %-24s %s\n", key, v);
        free(v);
    }
}

int cmd_info(int argc, char **argv)
{
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {CLI_COMMON_OPTS(&c)};
    const char *pos[1];
    int np;
    int r = cli_parse("info", "MODEL [options]", "Describe a model file: type, configuration, "
                      "training state (checkpoints) and tensors.", argc, argv, table,
                      (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("info", "a model file is required (dgm info MODEL)");
    dgm_err err = {0};
    dgm_model *m = NULL;
    dgm_st_file *f = NULL;
    if (dgm_model_load(&m, pos[0], &err) || dgm_safetensors_read(&f, pos[0], &err)) {
        dgm_model_free(m);
        return cli_fail_err("info", &err);
    }
    char *d = dgm_model_describe(m);
    cJSON *o = d ? cJSON_Parse(d) : NULL;
    free(d);
    if (!o) {
        dgm_model_free(m);
        dgm_safetensors_free(f);
        return cli_fail("info", "out of memory");
    }
    const char *st = dgm_model_train_state(m);
    if (st)
        cJSON_AddItemToObject(o, "train_state", cJSON_Parse(st));
    cJSON_AddStringToObject(o, "file", pos[0]);
    cJSON *ts = cJSON_AddArrayToObject(o, "tensors");
    size_t n = dgm_st_count(f), bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const dgm_st_tensor *t = dgm_st_get(f, i);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", t->name);
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        size_t numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[k]));
            numel *= t->shape[k];
        }
        bytes += 4 * numel;
        cJSON_AddItemToArray(ts, e);
    }
    if (c.json) {
        cli_print_json(o);
    } else {
        cJSON *tensors = cJSON_DetachItemFromObject(o, "tensors");
        printf("%s: %s model, %s\n", pos[0], dgm_model_type(m),
               st ? "a training checkpoint (weights, optimizer moments, training state)"
                  : "weights and config");
        print_fields(o, "");
        printf("tensors (%zu, %.1f MB of float32):\n", n, (double)bytes / 1e6);
        for (const cJSON *e = tensors->child; e; e = e->next) {
            char shape[96] = "";
            const cJSON *sh = cJSON_GetObjectItem(e, "shape");
            for (const cJSON *k = sh->child; k; k = k->next)
                snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%.0f",
                         k == sh->child ? "" : " x ", k->valuedouble);
            printf("  %-36s %s\n", cJSON_GetObjectItem(e, "name")->valuestring, shape);
        }
        cJSON_Delete(tensors);
        cJSON_Delete(o);
    }
    dgm_safetensors_free(f);
    dgm_model_free(m);
    return 0;
}
