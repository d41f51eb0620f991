/* kestrel-calc.h — a safe arithmetic expression evaluator (no code execution).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KESTREL_CALC_ERROR (kestrel_calc_error_quark ())

typedef enum
{
  KESTREL_CALC_ERROR_SYNTAX,
  KESTREL_CALC_ERROR_DIVISION_BY_ZERO,
  KESTREL_CALC_ERROR_OVERFLOW,
  KESTREL_CALC_ERROR_DOMAIN,
  KESTREL_CALC_ERROR_TOO_COMPLEX,
} KestrelCalcError;

#define KESTREL_CALC_MAX_LENGTH 1024
#define KESTREL_CALC_MAX_DEPTH  64

GQuark   kestrel_calc_error_quark (void);
gboolean kestrel_calc_evaluate    (const char  *expression,
                                   double      *result,
                                   GError     **error);

G_END_DECLS
