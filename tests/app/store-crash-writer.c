/* store-crash-writer.c — a process for test-store-crash to SIGKILL: it opens the store and
 * writes conversations forever, streaming replies token by token the way the app does.
 *
 * It reports on stdout, one line each, only after the store returned (so after the commit):
 *   M <id> <content>     a message committed complete with exactly this content
 *   S <id> <full text>   a streaming reply started; <full text> is what it will become
 *   U <id> <length>      the streaming text handed to the store has reached <length> bytes
 *
 * Usage: store-crash-writer DATABASE SEED FLUSH_INTERVAL_MS TOKEN_US_MIN TOKEN_US_MAX
 * (the pause between tokens is drawn from [TOKEN_US_MIN, TOKEN_US_MAX) microseconds)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "kestrel-store.h"

static const char * const words[] = {
  "kestrel", "hover", "wind", "vole", "meadow", "falcon", "wing", "feather", "sky", "hunt",
  "perch", "prey", "nest", "tower", "field", "grass", "dive", "sharp", "eye", "tail",
};

static char *
make_text (GRand *rand,
           guint  n_words)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < n_words; i++)
    {
      if (i > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
      if (g_rand_int_range (rand, 0, 12) == 0)
        g_string_append_printf (text, "%u", g_rand_int_range (rand, 0, 1000));
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void G_GNUC_NORETURN
die (const char *what,
     GError     *error)
{
  fprintf (stderr, "store-crash-writer: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelStore) store = NULL;
  GRand *rand;
  gint64 conversation_id = 0, parent = 0;

  guint token_us_min, token_us_max;

  if (argc != 6)
    {
      fprintf (stderr, "Usage: %s DATABASE SEED FLUSH_INTERVAL_MS TOKEN_US_MIN TOKEN_US_MAX\n", argv[0]);
      return 2;
    }
  token_us_min = (guint) g_ascii_strtoull (argv[4], NULL, 10);
  token_us_max = MAX (token_us_min + 1, (guint) g_ascii_strtoull (argv[5], NULL, 10));

  setvbuf (stdout, NULL, _IOLBF, 0);
  rand = g_rand_new_with_seed ((guint32) g_ascii_strtoull (argv[2], NULL, 10));

  if (!(store = kestrel_store_new (argv[1], &error)))
    die ("open", error);
  if (kestrel_store_get_recovery_message (store) != NULL)
    die (kestrel_store_get_recovery_message (store), NULL);
  kestrel_store_set_flush_interval (store, (guint) g_ascii_strtoull (argv[3], NULL, 10));

  for (guint round = 0;; round++)
    {
      g_autoptr(KestrelMessage) question = NULL;
      g_autoptr(KestrelMessage) reply = NULL;
      g_autofree char *question_text = make_text (rand, g_rand_int_range (rand, 3, 20));
      g_autofree char *reply_text = make_text (rand, g_rand_int_range (rand, 20, 300));
      g_autoptr(GString) streamed = g_string_new (NULL);
      const char *p;

      if (round % 4 == 0)
        {
          g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);

          if (c == NULL)
            die ("create", error);
          conversation_id = kestrel_conversation_get_id (c);
          parent = 0;
        }

      question = kestrel_store_append_message (store, conversation_id, parent, KESTREL_MESSAGE_ROLE_USER,
                                               KESTREL_MESSAGE_STATUS_COMPLETE, question_text, NULL, &error);
      if (question == NULL)
        die ("append", error);
      printf ("M %" G_GINT64_FORMAT " %s\n", kestrel_message_get_id (question), question_text);

      reply = kestrel_store_append_message (store, conversation_id, kestrel_message_get_id (question),
                                            KESTREL_MESSAGE_ROLE_MODEL, KESTREL_MESSAGE_STATUS_STREAMING, "", NULL, &error);
      if (reply == NULL)
        die ("append", error);
      printf ("S %" G_GINT64_FORMAT " %s\n", kestrel_message_get_id (reply), reply_text);

      /* Token by token, as the engine worker hands them to the UI. */
      p = reply_text;
      for (guint token = 0; *p != '\0'; token++)
        {
          const char *end = strchr (p + 1, ' ');

          if (end == NULL)
            end = p + strlen (p);
          g_string_append_len (streamed, p, end - p);
          p = end;
          kestrel_store_update_message_text (store, kestrel_message_get_id (reply), streamed->str);
          if (token % 8 == 0)
            printf ("U %" G_GINT64_FORMAT " %" G_GSIZE_FORMAT "\n", kestrel_message_get_id (reply), streamed->len);
          g_usleep (g_rand_int_range (rand, token_us_min, token_us_max));
        }

      if (!kestrel_store_finish_message (store, kestrel_message_get_id (reply), NULL, KESTREL_MESSAGE_STATUS_COMPLETE,
                                         "{\"tokens\":1}", &error))
        die ("finish", error);
      printf ("M %" G_GINT64_FORMAT " %s\n", kestrel_message_get_id (reply), reply_text);
      parent = kestrel_message_get_id (reply);
    }

  return 0;
}
