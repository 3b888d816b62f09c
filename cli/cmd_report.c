/* dgm report: the HTML page of a finished training run (cli/report.c), from its model file
 * and its --log: the loss and learning-rate curves, the final model's samples, the epoch
 * and evaluation tables and the latent codes by class. dgm train --report writes the same
 * page during the run, with samples after every epoch. */
#include "cli.h"
#include "report.h"

#include <string.h>

int cmd_report(int argc, char **argv)
{
    const char *log = NULL, *out = "report.html", *data = NULL, *labels = NULL;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--log", OPT_STR, &log, "PATH", "the run's dgm train --log file (required)", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "the HTML page", 1, 0},
        {"--data", OPT_STR, &data, "SPEC", "held-out data for the evaluation and the latent "
         "picture (default: fashion-mnist:test for a run on fashion-mnist, as its checkpoint "
         "says; none otherwise)", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "labels for --data", 1, 0},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("report", "MODEL --log LOG [-o report.html] [options]", "A self-contained "
                      "HTML report of a VAE training run: curves, samples, tables, latent codes.",
                      argc, argv, table, (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1 || !log)
        return cli_usage("report", "a model file and --log are required (dgm report MODEL --log LOG)");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err("report", &err);
    /* the checkpoint beside the model names the training data */
    char ckpt[4096], spec[1024] = "";
    dgm_model *ck = NULL;
    if (!data && !dgm_checkpoint_path(ckpt, sizeof ckpt, pos[0]) && !dgm_model_load(&ck, ckpt, NULL) &&
        dgm_model_train_state(ck)) {
        cJSON *st = cJSON_Parse(dgm_model_train_state(ck));
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(st, "data");
        if (cJSON_IsString(d) && !strcmp(d->valuestring, "fashion-mnist"))
            snprintf(spec, sizeof spec, "fashion-mnist:test");
        cJSON_Delete(st);
    }
    dgm_model_free(ck);
    if (!data && spec[0])
        data = spec;
    cli_run run = {0};
    int rc = cli_run_read_log(&run, log);
    if (!rc)
        rc = cli_report_write(out, &run, m, pos[0], data, labels, (uint64_t)c.seed);
    if (!rc)
        fprintf(stderr, "dgm report: wrote %s\n", out);
    cli_run_free(&run);
    dgm_model_free(m);
    return rc;
}
