/* kestrel-model-library-page.h — the models on this computer: use or remove them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Lists a KestrelModelLibrary (name, size, format) with Use and Remove (after a
 * confirmation) on each row.  Emits "use-requested" (KestrelModelEntry *) for Use and
 * "download-requested" for its Download buttons; removing is done here, and announced with
 * "removed" (KestrelModelEntry *) once the files are gone.
 */
#pragma once

#include <adwaita.h>

#include "kestrel-model-library.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_MODEL_LIBRARY_PAGE (kestrel_model_library_page_get_type ())

G_DECLARE_FINAL_TYPE (KestrelModelLibraryPage, kestrel_model_library_page, KESTREL, MODEL_LIBRARY_PAGE, AdwDialog)

/* Refreshes @library when shown. */
AdwDialog           *kestrel_model_library_page_new            (KestrelModelLibrary     *library);
KestrelModelLibrary *kestrel_model_library_page_get_library    (KestrelModelLibraryPage *self);
/* The folder the engine loads (the model-folder setting), marked "In Use"; NULL for none. */
void                 kestrel_model_library_page_set_current_folder (KestrelModelLibraryPage *self,
                                                                    const char              *path);
/* Whether a refresh has finished since the page was created. */
gboolean             kestrel_model_library_page_get_loaded     (KestrelModelLibraryPage *self);

G_END_DECLS
