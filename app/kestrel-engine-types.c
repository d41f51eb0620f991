/* kestrel-engine-types.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-engine"

#include "config.h"

#include "kestrel-engine-types.h"

struct _KestrelImage
{
  GBytes *pixels;
  guint   width;
  guint   height;
  guint   channels;
  gsize   stride;
};

G_DEFINE_BOXED_TYPE (KestrelImage, kestrel_image, kestrel_image_ref, kestrel_image_unref)

KestrelImage *
kestrel_image_new (GBytes *pixels,
                   guint   width,
                   guint   height,
                   guint   channels,
                   gsize   stride)
{
  KestrelImage *self;

  g_return_val_if_fail (pixels != NULL, NULL);
  g_return_val_if_fail (channels == 3 || channels == 4, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (stride >= (gsize) width * channels, NULL);
  g_return_val_if_fail (g_bytes_get_size (pixels) / stride >= height, NULL);

  self = g_atomic_rc_box_new0 (KestrelImage);
  self->pixels = g_bytes_ref (pixels);
  self->width = width;
  self->height = height;
  self->channels = channels;
  self->stride = stride;

  return self;
}

static void
kestrel_image_clear (gpointer data)
{
  KestrelImage *self = data;

  g_clear_pointer (&self->pixels, g_bytes_unref);
}

KestrelImage *
kestrel_image_ref (KestrelImage *image)
{
  return g_atomic_rc_box_acquire (image);
}

void
kestrel_image_unref (KestrelImage *image)
{
  g_atomic_rc_box_release_full (image, kestrel_image_clear);
}

guint kestrel_image_get_width (KestrelImage *image) { return image->width; }
guint kestrel_image_get_height (KestrelImage *image) { return image->height; }
GBytes *kestrel_image_get_pixels (KestrelImage *image) { return image->pixels; }
guint kestrel_image_get_channels (KestrelImage *image) { return image->channels; }
gsize kestrel_image_get_stride (KestrelImage *image) { return image->stride; }

struct _KestrelChatTurn
{
  KestrelRole  role;
  char        *text;
  GPtrArray   *images;
};

G_DEFINE_BOXED_TYPE (KestrelChatTurn, kestrel_chat_turn, kestrel_chat_turn_ref, kestrel_chat_turn_unref)

KestrelChatTurn *
kestrel_chat_turn_new (KestrelRole  role,
                       const char  *text)
{
  KestrelChatTurn *self = g_atomic_rc_box_new0 (KestrelChatTurn);

  self->role = role;
  self->text = g_strdup (text ? text : "");
  self->images = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_image_unref);

  return self;
}

void
kestrel_chat_turn_add_image (KestrelChatTurn *turn,
                             KestrelImage    *image)
{
  g_return_if_fail (turn != NULL && image != NULL);

  g_ptr_array_add (turn->images, kestrel_image_ref (image));
}

static void
kestrel_chat_turn_clear (gpointer data)
{
  KestrelChatTurn *self = data;

  g_clear_pointer (&self->text, g_free);
  g_clear_pointer (&self->images, g_ptr_array_unref);
}

KestrelChatTurn *
kestrel_chat_turn_ref (KestrelChatTurn *turn)
{
  return g_atomic_rc_box_acquire (turn);
}

void
kestrel_chat_turn_unref (KestrelChatTurn *turn)
{
  g_atomic_rc_box_release_full (turn, kestrel_chat_turn_clear);
}

KestrelRole kestrel_chat_turn_get_role (KestrelChatTurn *turn) { return turn->role; }
const char *kestrel_chat_turn_get_text (KestrelChatTurn *turn) { return turn->text; }
guint kestrel_chat_turn_get_n_images (KestrelChatTurn *turn) { return turn->images->len; }

KestrelImage *
kestrel_chat_turn_get_image (KestrelChatTurn *turn,
                             guint            index)
{
  g_return_val_if_fail (index < turn->images->len, NULL);

  return g_ptr_array_index (turn->images, index);
}

void
kestrel_sampling_settings_init (KestrelSamplingSettings *settings)
{
  settings->temperature = -1;
  settings->top_k = -1;
  settings->top_p = -1;
  settings->min_p = -1;
  settings->max_tokens = 0;
  settings->seed = 0;
}
