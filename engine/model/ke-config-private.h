/* ke-config-private.h — helpers shared by ke-config.c and ke-config-files.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <yyjson.h>

#include "ke-config.h"
#include "ke-internal.h"

/* eos_token_id of `obj` (an integer or an array of 1..KE_MAX_EOS integers), when present,
 * replaces config->eos_token_ids. */
bool ke_config_parse_eos (yyjson_val *obj, const char *what, ke_config *config, ke_error **error);
/* id must be inside the vocabulary; `name` is the key for the message. */
bool ke_config_check_token (int32_t id, uint32_t vocab, const char *what, const char *name,
                            ke_error **error);
