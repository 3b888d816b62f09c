/* The minibatch trainers' shared options and the start of their runs (train.h). */
#include "train.h"
#include "model_io.h"

#include <stdio.h>
#include <string.h>

void cli_fit_opts_defaults(cli_fit_opts *o, long batch)
{
    *o = (cli_fit_opts){.epochs = -1, .batch = batch, .lr = -1, .optimizer = "adam",
                        .schedule = "constant"};
}

int cli_fit_start(const char *cmd, const cli_fit_opts *o, uint64_t seed, const char *resume,
                  int (*is_kind)(const dgm_model *), dgm_model **m, dgm_fit_cfg *fc,
                  dgm_fit_data *fd, cli_resumed *rs)
{
    *fc = dgm_fit_defaults();
    fd->limit = (size_t)o->limit;
    if (resume) {
        int rr = cli_resume_load(cmd, resume, m, rs->ckpt, rs->model_path, sizeof rs->ckpt);
        if (rr)
            return rr;
        dgm_err err = {0};
        if (!is_kind(*m) || dgm_fit_resume_cfg(fc, rs->data, rs->labels, sizeof rs->data,
                                               &fd->limit, *m, &err)) {
            dgm_model_free(*m);
            *m = NULL;
            return cli_fail(cmd, "%s: no usable training state to resume from", rs->ckpt);
        }
        fd->data_spec = rs->data;
        fd->labels_spec = *rs->labels ? rs->labels : NULL;
    } else {
        int opt = dgm_opt_kind_from_name(o->optimizer), sch = dgm_sched_kind_from_name(o->schedule);
        if (opt < 0)
            return cli_usage(cmd, "--optimizer: unknown optimizer '%s' (adam, adamw, sgd)",
                             o->optimizer);
        if (sch != DGM_SCHED_CONSTANT && sch != DGM_SCHED_COSINE)
            return cli_usage(cmd, "--schedule: unknown schedule '%s' (constant, cosine)",
                             o->schedule);
        *fc = (dgm_fit_cfg){.seed = seed, .epochs = 10, .batch = (size_t)o->batch,
                            .optimizer = opt, .lr = 1e-3, .weight_decay = o->weight_decay,
                            .clip = o->clip, .schedule = sch, .objective = DGM_OBJ_ELBO, .k = 1,
                            .n_val = (size_t)o->val};
    }
    if (o->epochs > 0)
        fc->epochs = o->epochs;
    if (o->lr > 0)
        fc->lr = o->lr;
    return 0;
}
