/* kestrel-calc.c — a safe arithmetic expression evaluator (no code execution).
 *
 * Grammar (precedence from low to high; ^ and ** are right-associative and bind tighter than
 * a unary sign, as in Python: -2^2 = -4):
 *
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/' | '%') unary)*
 *   unary   := ('+' | '-') unary | power
 *   power   := primary (('^' | '**') unary)?
 *   primary := number | constant | function '(' expr ')' | '(' expr ')'
 *
 * Numbers are decimal (1, 2.5, .5, 1e-3; ',' is not a digit separator).  Constants: pi, e,
 * tau.  Functions: sqrt abs sin cos tan asin acos atan sinh cosh tanh exp ln log log10 log2
 * floor ceil round.  '%' is the remainder (fmod).  Every intermediate value must be finite:
 * division or remainder by zero, overflow (1e308*10) and domain errors (sqrt(-1), ln(0)) are
 * errors with messages, never inf or nan.  Input length and nesting are bounded.
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <math.h>
#include <string.h>

#include "kestrel-calc.h"

G_DEFINE_QUARK (kestrel-calc-error-quark, kestrel_calc_error)

typedef struct
{
  const char *start;
  const char *p;
  guint       depth;
} Calc;

typedef double (*UnaryFunc) (double);

static const struct { const char *name; UnaryFunc func; } functions[] = {
  { "sqrt", sqrt }, { "abs", fabs }, { "sin", sin }, { "cos", cos }, { "tan", tan },
  { "asin", asin }, { "acos", acos }, { "atan", atan }, { "sinh", sinh }, { "cosh", cosh },
  { "tanh", tanh }, { "exp", exp }, { "ln", log }, { "log", log10 }, { "log10", log10 },
  { "log2", log2 }, { "floor", floor }, { "ceil", ceil }, { "round", round },
};

static const struct { const char *name; double value; } constants[] = {
  { "pi", G_PI }, { "e", G_E }, { "tau", 2 * G_PI },
};

static gboolean parse_expr (Calc *c, double *out, GError **error);
static gboolean parse_unary (Calc *c, double *out, GError **error);

static void
skip_ws (Calc *c)
{
  while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
    c->p++;
}

static gboolean
syntax_error (Calc       *c,
              GError    **error,
              const char *what)
{
  g_set_error (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_SYNTAX, "%s at position %d",
               what, (int) (c->p - c->start) + 1);
  return FALSE;
}

/* An intermediate result must be a finite number. */
static gboolean
check (double      v,
       const char *what,
       GError    **error)
{
  if (isnan (v))
    {
      g_set_error (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_DOMAIN,
                   "%s is not defined for these values", what);
      return FALSE;
    }
  if (isinf (v))
    {
      g_set_error (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_OVERFLOW,
                   "The result of %s is too large", what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_primary (Calc    *c,
               double  *out,
               GError **error)
{
  skip_ws (c);

  if (g_ascii_isdigit (*c->p) || (*c->p == '.' && g_ascii_isdigit (c->p[1])))
    {
      const char *s = c->p;
      g_autofree char *number = NULL;

      while (g_ascii_isdigit (*c->p))
        c->p++;
      if (*c->p == '.')
        for (c->p++; g_ascii_isdigit (*c->p); c->p++)
          ;
      if ((*c->p == 'e' || *c->p == 'E') &&
          (g_ascii_isdigit (c->p[1]) || ((c->p[1] == '+' || c->p[1] == '-') && g_ascii_isdigit (c->p[2]))))
        for (c->p += 2; g_ascii_isdigit (*c->p); c->p++)
          ;
      number = g_strndup (s, c->p - s);
      *out = g_ascii_strtod (number, NULL);
      if (g_ascii_isalpha (*c->p) || *c->p == '_' || *c->p == '.')
        return syntax_error (c, error, "Malformed number");
      return check (*out, "a number", error);
    }

  if (g_ascii_isalpha (*c->p))
    {
      const char *s = c->p;
      gsize n;

      while (g_ascii_isalnum (*c->p) || *c->p == '_')
        c->p++;
      n = c->p - s;
      for (gsize i = 0; i < G_N_ELEMENTS (constants); i++)
        if (strlen (constants[i].name) == n && memcmp (constants[i].name, s, n) == 0)
          {
            *out = constants[i].value;
            return TRUE;
          }
      for (gsize i = 0; i < G_N_ELEMENTS (functions); i++)
        if (strlen (functions[i].name) == n && memcmp (functions[i].name, s, n) == 0)
          {
            double arg;
            g_autofree char *what = NULL;

            skip_ws (c);
            if (*c->p != '(')
              return syntax_error (c, error, "Expected '(' after a function name");
            c->p++;
            if (!parse_expr (c, &arg, error))
              return FALSE;
            skip_ws (c);
            if (*c->p != ')')
              return syntax_error (c, error, "Expected ')'");
            c->p++;
            *out = functions[i].func (arg);
            what = g_strdup_printf ("%s()", functions[i].name);
            return check (*out, what, error);
          }
      c->p = s;
      return syntax_error (c, error, "Unknown name");
    }

  if (*c->p == '(')
    {
      c->p++;
      if (!parse_expr (c, out, error))
        return FALSE;
      skip_ws (c);
      if (*c->p != ')')
        return syntax_error (c, error, "Expected ')'");
      c->p++;
      return TRUE;
    }

  if (*c->p == '\0')
    return syntax_error (c, error, "Unexpected end of the expression");
  return syntax_error (c, error, "Unexpected character");
}

static gboolean
parse_power (Calc    *c,
             double  *out,
             GError **error)
{
  double base, exponent;

  if (!parse_primary (c, &base, error))
    return FALSE;
  skip_ws (c);
  if (*c->p == '^' || (c->p[0] == '*' && c->p[1] == '*'))
    {
      c->p += *c->p == '^' ? 1 : 2;
      if (!parse_unary (c, &exponent, error))
        return FALSE;
      if (base == 0 && exponent < 0)
        {
          g_set_error_literal (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_DIVISION_BY_ZERO,
                               "Division by zero (zero to a negative power)");
          return FALSE;
        }
      base = pow (base, exponent);
      if (!check (base, "a power", error))
        return FALSE;
    }
  *out = base;
  return TRUE;
}

static gboolean
parse_unary (Calc    *c,
             double  *out,
             GError **error)
{
  gboolean ok;

  skip_ws (c);
  if (++c->depth > KESTREL_CALC_MAX_DEPTH)
    {
      g_set_error_literal (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_TOO_COMPLEX,
                           "The expression is nested too deeply");
      return FALSE;
    }
  if (*c->p == '-' || *c->p == '+')
    {
      gboolean negate = *c->p == '-';

      c->p++;
      ok = parse_unary (c, out, error);
      if (ok && negate)
        *out = -*out;
    }
  else
    ok = parse_power (c, out, error);
  c->depth--;
  return ok;
}

static gboolean
parse_term (Calc    *c,
            double  *out,
            GError **error)
{
  double left, right;

  if (!parse_unary (c, &left, error))
    return FALSE;
  for (;;)
    {
      char op;

      skip_ws (c);
      op = *c->p;
      if ((op != '*' && op != '/' && op != '%') || (op == '*' && c->p[1] == '*'))
        break;
      c->p++;
      if (!parse_unary (c, &right, error))
        return FALSE;
      if ((op == '/' || op == '%') && right == 0)
        {
          g_set_error_literal (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_DIVISION_BY_ZERO,
                               "Division by zero");
          return FALSE;
        }
      left = op == '*' ? left * right : op == '/' ? left / right : fmod (left, right);
      if (!check (left, op == '*' ? "a multiplication" : "a division", error))
        return FALSE;
    }
  *out = left;
  return TRUE;
}

static gboolean
parse_expr (Calc    *c,
            double  *out,
            GError **error)
{
  double left, right;

  if (++c->depth > KESTREL_CALC_MAX_DEPTH)
    {
      g_set_error_literal (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_TOO_COMPLEX,
                           "The expression is nested too deeply");
      return FALSE;
    }
  if (!parse_term (c, &left, error))
    return FALSE;
  for (;;)
    {
      char op;

      skip_ws (c);
      op = *c->p;
      if (op != '+' && op != '-')
        break;
      c->p++;
      if (!parse_term (c, &right, error))
        return FALSE;
      left = op == '+' ? left + right : left - right;
      if (!check (left, op == '+' ? "an addition" : "a subtraction", error))
        return FALSE;
    }
  c->depth--;
  *out = left;
  return TRUE;
}

/**
 * kestrel_calc_evaluate:
 * @expression: e.g. "2 * (3 + 4) ^ 2"
 * @result: (out): the value
 *
 * Returns: %TRUE on success, else a %KESTREL_CALC_ERROR with a message fit to show.
 */
gboolean
kestrel_calc_evaluate (const char  *expression,
                       double      *result,
                       GError     **error)
{
  Calc c = { expression, expression, 0 };
  double value;

  g_return_val_if_fail (expression != NULL, FALSE);
  g_return_val_if_fail (result != NULL, FALSE);

  if (strlen (expression) > KESTREL_CALC_MAX_LENGTH)
    {
      g_set_error (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_TOO_COMPLEX,
                   "The expression is longer than %d characters", KESTREL_CALC_MAX_LENGTH);
      return FALSE;
    }
  if (!parse_expr (&c, &value, error))
    return FALSE;
  skip_ws (&c);
  if (*c.p != '\0')
    return syntax_error (&c, error, "Unexpected character");

  *result = value == 0 ? 0 : value;  /* no "-0" */
  return TRUE;
}
