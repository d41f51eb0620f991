/* test-store-export.c — export to JSON and Markdown, import back (round trip, other file), and
 * import of broken files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "store-test-util.h"

static KestrelStore *
open_store (StoreFixture *f)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = kestrel_store_new (f->path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_assert_null (kestrel_store_get_recovery_message (store));
  return store;
}

static KestrelMessage *
append (KestrelStore       *store,
        gint64              conversation_id,
        gint64              parent_id,
        KestrelMessageRole  role,
        const char         *content)
{
  g_autoptr(GError) error = NULL;
  KestrelMessage *message = kestrel_store_append_message (store, conversation_id, parent_id, role,
                                                          KESTREL_MESSAGE_STATUS_COMPLETE, content, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  return message;
}

static gint64
build_rich_conversation (KestrelStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, "You are a birder.\nBe exact.", "{\"temperature\":0.5}", &error);
  gint64 cid = kestrel_conversation_get_id (c);
  g_autoptr(GBytes) png = make_png (40, 30);
  g_autoptr(KestrelAttachment) image = kestrel_attachment_new_from_bytes (png, "image/png", &error);
  g_autoptr(GPtrArray) attachments = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(KestrelMessage) q = NULL;
  g_autoptr(KestrelMessage) a1 = NULL;
  g_autoptr(KestrelMessage) a2 = NULL;
  g_autoptr(KestrelStoredToolCall) call = NULL;

  g_ptr_array_add (attachments, g_object_ref (image));
  q = kestrel_store_append_message (store, cid, 0, KESTREL_MESSAGE_ROLE_USER, KESTREL_MESSAGE_STATUS_COMPLETE,
                                    "Which bird is this? \"quotes\" and ünïcode", attachments, &error);
  g_assert_no_error (error);
  a1 = append (store, cid, kestrel_message_get_id (q), KESTREL_MESSAGE_ROLE_MODEL, "A kestrel.");
  call = kestrel_store_add_tool_call (store, kestrel_message_get_id (a1), "lookup", "{\"name\":\"kestrel\"}", &error);
  g_assert_true (kestrel_store_update_tool_call (store, kestrel_stored_tool_call_get_id (call), KESTREL_TOOL_CALL_STATUS_COMPLETE,
                                                 KESTREL_TOOL_APPROVAL_APPROVED, "Falco tinnunculus", &error));
  a2 = append (store, cid, kestrel_message_get_id (q), KESTREL_MESSAGE_ROLE_MODEL, "A **common kestrel**.");
  g_assert_true (kestrel_store_finish_message (store, kestrel_message_get_id (a2), NULL, KESTREL_MESSAGE_STATUS_COMPLETE,
                                               "{\"tokens\":5}", &error));
  /* The first answer stays selected. */
  g_assert_true (kestrel_store_select_message (store, kestrel_message_get_id (a1), &error));
  g_assert_true (kestrel_store_set_title (store, cid, "Bird ID", KESTREL_TITLE_SOURCE_MODEL, &error));
  g_assert_no_error (error);
  return cid;
}

static void
test_export_import (StoreFixture  *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  gint64 cid = build_rich_conversation (store);
  g_autofree char *json = NULL;
  g_autofree char *json2 = NULL;
  g_autofree char *markdown = NULL;
  g_autoptr(KestrelConversation) imported = NULL;
  g_autoptr(GPtrArray) thread = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  json = kestrel_store_export (store, cid, KESTREL_EXPORT_FORMAT_JSON, &error);
  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);

  markdown = kestrel_store_export (store, cid, KESTREL_EXPORT_FORMAT_MARKDOWN, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (markdown, "# Bird ID\n"));
  g_assert_nonnull (strstr (markdown, "> You are a birder.\n> Be exact.\n"));
  g_assert_nonnull (strstr (markdown, "## You\n\nWhich bird is this?"));
  g_assert_nonnull (strstr (markdown, "## Kestrel\n\nA kestrel."));
  g_assert_null (strstr (markdown, "common kestrel")); /* only the shown branch */
  g_assert_nonnull (strstr (markdown, "](data:image/png;base64,"));
  g_assert_nonnull (strstr (markdown, "`lookup`"));

  /* Import makes a new conversation equal in every exported respect. */
  imported = kestrel_store_import_json (store, json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kestrel_conversation_get_id (imported), !=, cid);
  g_assert_cmpstr (kestrel_conversation_get_title (imported), ==, "Bird ID");
  json2 = kestrel_store_export (store, kestrel_conversation_get_id (imported), KESTREL_EXPORT_FORMAT_JSON, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json, ==, json2);

  thread = kestrel_store_load_thread (store, kestrel_conversation_get_id (imported), &error);
  g_assert_cmpuint (thread->len, ==, 2);
  g_assert_cmpstr (kestrel_message_get_content (g_ptr_array_index (thread, 1)), ==, "A kestrel.");
  g_assert_cmpuint (kestrel_message_get_attachments (g_ptr_array_index (thread, 0))->len, ==, 1);

  /* Into another database too (a different file). */
  {
    g_autofree char *other_path = g_build_filename (f->dir, "other.db", NULL);
    KestrelStore *other = kestrel_store_new (other_path, &error);
    g_autoptr(KestrelConversation) copy = NULL;
    g_autofree char *json3 = NULL;

    g_assert_no_error (error);
    copy = kestrel_store_import_json (other, json, -1, &error);
    g_assert_no_error (error);
    json3 = kestrel_store_export (other, kestrel_conversation_get_id (copy), KESTREL_EXPORT_FORMAT_JSON, &error);
    g_assert_cmpstr (json, ==, json3);
    g_clear_object (&copy);
    assert_store_finalizes (other);
  }

  assert_store_finalizes (store);
}

static void
test_import_bad (StoreFixture  *f,
                 gconstpointer  data)
{
  static const struct { const char *from; const char *to; } corruptions[] = {
    { "\"format\" : \"kestrel-conversation\"", "\"format\" : \"something-else\"" },
    { "\"version\" : 1", "\"version\" : 2" },
    { "\"parent\" : 1", "\"parent\" : 3" },        /* a parent after the child */
    { "\"role\" : \"user\"", "\"role\" : \"wizard\"" },
    { "\"sha256\" : \"", "\"sha256\" : \"00" },    /* image does not match its hash */
    { "\"messages\" : [", "\"messages\" : 7, \"x\" : [" },
    { "\"approval\" : \"approved\"", "\"approval\" : 3" },
    { "\"created_at\" : ", "\"created_at\" : \"yesterday\", \"y\" : " },
  };
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  gint64 cid = build_rich_conversation (store);
  g_autofree char *json = kestrel_store_export (store, cid, KESTREL_EXPORT_FORMAT_JSON, &error);
  gint64 n_before = raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM messages");

  g_assert_no_error (error);

  g_assert_null (kestrel_store_import_json (store, "{ not json", -1, &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (kestrel_store_import_json (store, "[1, 2]", -1, &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID);
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (corruptions); i++)
    {
      g_autoptr(GString) bad = g_string_new (json);
      g_autoptr(KestrelConversation) c = NULL;

      g_assert_cmpuint (g_string_replace (bad, corruptions[i].from, corruptions[i].to, 1), ==, 1);
      c = kestrel_store_import_json (store, bad->str, bad->len, &error);
      g_assert_null (c);
      g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID);
      g_test_message ("corruption %u: %s", i, error->message);
      g_clear_error (&error);
    }

  /* Nothing half-imported. */
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM messages"), ==, n_before);
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM conversations"), ==, 1);
  assert_store_finalizes (store);
}

int
main (int   argc,
      char *argv[])
{
  store_test_init (&argc, &argv);

  g_test_add ("/store/export/round-trip", StoreFixture, NULL, fixture_setup, test_export_import, fixture_teardown);
  g_test_add ("/store/export/import-bad", StoreFixture, NULL, fixture_setup, test_import_bad, fixture_teardown);

  return store_test_run ();
}
