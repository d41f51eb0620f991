/* kestrel-model-entry.c — a model found on disk: name, folder, size, format.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "kestrel-model-entry.h"

#define MAX_CONFIG_BYTES (4 * 1024 * 1024)

struct _KestrelModelEntry
{
  GObject             parent_instance;

  char               *name;
  GFile              *folder;
  GFile              *removable;
  guint64             size;
  char               *format;
  char               *architecture;
  KestrelModelSource  source;
  gboolean            complete;
};

G_DEFINE_FINAL_TYPE (KestrelModelEntry, kestrel_model_entry, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_FOLDER,
  PROP_SIZE,
  PROP_FORMAT,
  PROP_ARCHITECTURE,
  PROP_COMPLETE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_model_entry_finalize (GObject *object)
{
  KestrelModelEntry *self = KESTREL_MODEL_ENTRY (object);

  g_clear_pointer (&self->name, g_free);
  g_clear_object (&self->folder);
  g_clear_object (&self->removable);
  g_clear_pointer (&self->format, g_free);
  g_clear_pointer (&self->architecture, g_free);

  G_OBJECT_CLASS (kestrel_model_entry_parent_class)->finalize (object);
}

static void
kestrel_model_entry_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  KestrelModelEntry *self = KESTREL_MODEL_ENTRY (object);

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_FOLDER: g_value_set_object (value, self->folder); break;
    case PROP_SIZE: g_value_set_uint64 (value, self->size); break;
    case PROP_FORMAT: g_value_set_string (value, self->format); break;
    case PROP_ARCHITECTURE: g_value_set_string (value, self->architecture); break;
    case PROP_COMPLETE: g_value_set_boolean (value, self->complete); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_model_entry_class_init (KestrelModelEntryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_model_entry_finalize;
  object_class->get_property = kestrel_model_entry_get_property;

  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, ro);
  properties[PROP_FOLDER] = g_param_spec_object ("folder", NULL, NULL, G_TYPE_FILE, ro);
  properties[PROP_SIZE] = g_param_spec_uint64 ("size", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_FORMAT] = g_param_spec_string ("format", NULL, NULL, NULL, ro);
  properties[PROP_ARCHITECTURE] = g_param_spec_string ("architecture", NULL, NULL, NULL, ro);
  properties[PROP_COMPLETE] = g_param_spec_boolean ("complete", NULL, NULL, FALSE, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_model_entry_init (KestrelModelEntry *self)
{
}

static const char *
dtype_name (const char *dtype)
{
  if (g_strcmp0 (dtype, "bfloat16") == 0)
    return "BF16";
  if (g_strcmp0 (dtype, "float16") == 0)
    return "F16";
  if (g_strcmp0 (dtype, "float32") == 0)
    return "F32";
  return dtype;
}

/* compressed-tensors: every config group's weights {type, num_bits}, and whether the input
 * activations are quantized dynamically (what FP8-Dynamic checkpoints do). */
static char *
compressed_tensors_format (JsonObject *quant)
{
  JsonNode *groups_node = json_object_get_member (quant, "config_groups");
  JsonObject *groups;
  g_autoptr(GList) names = NULL;
  const char *type = NULL;
  gint64 bits = 0;
  gboolean dynamic = FALSE;

  if (groups_node == NULL || !JSON_NODE_HOLDS_OBJECT (groups_node))
    return g_strdup ("compressed-tensors");
  groups = json_node_get_object (groups_node);
  names = json_object_get_members (groups);
  for (GList *l = names; l != NULL; l = l->next)
    {
      JsonNode *group = json_object_get_member (groups, l->data);
      JsonNode *weights, *inputs;

      if (!JSON_NODE_HOLDS_OBJECT (group))
        continue;
      weights = json_object_get_member (json_node_get_object (group), "weights");
      inputs = json_object_get_member (json_node_get_object (group), "input_activations");
      if (weights != NULL && JSON_NODE_HOLDS_OBJECT (weights))
        {
          type = json_object_get_string_member_with_default (json_node_get_object (weights),
                                                             "type", type);
          bits = json_object_get_int_member_with_default (json_node_get_object (weights),
                                                          "num_bits", bits);
        }
      if (inputs != NULL && JSON_NODE_HOLDS_OBJECT (inputs))
        dynamic |= json_object_get_boolean_member_with_default (json_node_get_object (inputs),
                                                                "dynamic", FALSE);
      break; /* Kestrel's checkpoints have one group; the first describes the format */
    }

  if (g_strcmp0 (type, "float") == 0 && bits == 8)
    return g_strdup (dynamic ? "FP8 (compressed-tensors, dynamic activations)"
                             : "FP8 (compressed-tensors)");
  if (type != NULL && bits > 0)
    return g_strdup_printf ("%s%" G_GINT64_FORMAT " (compressed-tensors)",
                            g_strcmp0 (type, "int") == 0 ? "INT" : type, bits);
  return g_strdup ("compressed-tensors");
}

char *
kestrel_model_format_from_config (const char  *config_json,
                                  gssize       length,
                                  char       **architecture,
                                  GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *text;
  JsonNode *quant_node;
  const char *dtype;

  if (!json_parser_load_from_data (parser, config_json, length, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("config.json is not a JSON object"));
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (architecture != NULL)
    *architecture = g_strdup (json_object_get_string_member_with_default (root, "model_type",
                                                                          NULL));

  quant_node = json_object_get_member (root, "quantization_config");
  if (quant_node != NULL && JSON_NODE_HOLDS_OBJECT (quant_node))
    {
      JsonObject *quant = json_node_get_object (quant_node);
      const char *method = json_object_get_string_member_with_default (quant, "quant_method",
                                                                       NULL);
      gint64 bits = json_object_get_int_member_with_default (quant, "bits", 0);

      if (g_strcmp0 (method, "compressed-tensors") == 0)
        return compressed_tensors_format (quant);
      if (g_strcmp0 (method, "fp8") == 0)
        return g_strdup ("FP8");
      if ((g_strcmp0 (method, "gptq") == 0 || g_strcmp0 (method, "awq") == 0) && bits > 0)
        return g_strdup_printf ("%s %" G_GINT64_FORMAT "-bit",
                                method[0] == 'g' ? "GPTQ" : "AWQ", bits);
      if (g_strcmp0 (method, "bitsandbytes") == 0)
        return g_strdup (json_object_get_boolean_member_with_default (quant, "load_in_4bit",
                                                                      FALSE)
                         ? "bitsandbytes 4-bit" : "bitsandbytes 8-bit");
      if (method != NULL)
        return g_strdup (method);
    }

  /* Unquantized: the dtype, at the top or (Gemma 3 multimodal) in text_config; transformers
   * 5 writes "dtype", older versions "torch_dtype". */
  dtype = json_object_get_string_member_with_default (root, "torch_dtype", NULL);
  if (dtype == NULL)
    dtype = json_object_get_string_member_with_default (root, "dtype", NULL);
  if (dtype == NULL && json_object_has_member (root, "text_config") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "text_config")))
    {
      text = json_object_get_object_member (root, "text_config");
      dtype = json_object_get_string_member_with_default (text, "torch_dtype", NULL);
      if (dtype == NULL)
        dtype = json_object_get_string_member_with_default (text, "dtype", NULL);
    }
  return g_strdup (dtype ? dtype_name (dtype) : _("unknown"));
}

/* Sums regular files below @folder, following symlinks (the cache's snapshots link to
 * blobs); notes whether any .partial is left. */
static gboolean
measure (GFile         *folder,
         guint64       *size,
         gboolean      *has_partial,
         guint          depth,
         GCancellable  *cancellable,
         GError       **error)
{
  g_autoptr(GFileEnumerator) children = NULL;

  if (depth > 8)
    return TRUE;
  children = g_file_enumerate_children (folder, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                        G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                        G_FILE_QUERY_INFO_NONE, cancellable, error);
  if (children == NULL)
    return FALSE;
  for (;;)
    {
      GFileInfo *info;
      GFile *child;

      if (!g_file_enumerator_iterate (children, &info, &child, cancellable, error))
        return FALSE;
      if (info == NULL)
        break;
      if (g_str_has_suffix (g_file_info_get_name (info), ".partial"))
        *has_partial = TRUE;
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        {
          if (!measure (child, size, has_partial, depth + 1, cancellable, error))
            return FALSE;
        }
      else if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR)
        *size += (guint64) g_file_info_get_size (info);
    }
  return TRUE;
}

KestrelModelEntry *
kestrel_model_entry_new_from_folder (GFile               *folder,
                                     GFile               *removable,
                                     const char          *name,
                                     KestrelModelSource   source,
                                     GCancellable        *cancellable,
                                     GError             **error)
{
  g_autoptr(KestrelModelEntry) self = NULL;
  g_autoptr(GFile) config = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GFileInfo) info = NULL;
  gsize length = 0;
  gboolean has_partial = FALSE;

  g_return_val_if_fail (G_IS_FILE (folder), NULL);
  g_return_val_if_fail (G_IS_FILE (removable), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  config = g_file_get_child (folder, "config.json");
  info = g_file_query_info (config, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE,
                            cancellable, error);
  if (info == NULL)
    return NULL;
  if (g_file_info_get_size (info) > MAX_CONFIG_BYTES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("config.json is too large"));
      return NULL;
    }
  if (!g_file_load_contents (config, cancellable, &contents, &length, NULL, error))
    return NULL;

  self = g_object_new (KESTREL_TYPE_MODEL_ENTRY, NULL);
  self->format = kestrel_model_format_from_config (contents, length, &self->architecture,
                                                   error);
  if (self->format == NULL)
    return NULL;
  if (!measure (folder, &self->size, &has_partial, 0, cancellable, error))
    return NULL;
  self->name = g_strdup (name);
  self->folder = g_object_ref (folder);
  self->removable = g_object_ref (removable);
  self->source = source;
  self->complete = !has_partial;
  return g_steal_pointer (&self);
}

const char *
kestrel_model_entry_get_name (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), NULL);
  return self->name;
}

GFile *
kestrel_model_entry_get_folder (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), NULL);
  return self->folder;
}

GFile *
kestrel_model_entry_get_removable (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), NULL);
  return self->removable;
}

guint64
kestrel_model_entry_get_size (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), 0);
  return self->size;
}

const char *
kestrel_model_entry_get_format (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), NULL);
  return self->format;
}

const char *
kestrel_model_entry_get_architecture (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), NULL);
  return self->architecture;
}

KestrelModelSource
kestrel_model_entry_get_source (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), KESTREL_MODEL_SOURCE_FOLDER);
  return self->source;
}

gboolean
kestrel_model_entry_get_complete (KestrelModelEntry *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_ENTRY (self), FALSE);
  return self->complete;
}
