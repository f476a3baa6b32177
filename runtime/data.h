/* data.h: datasets in memory. Every reader (IDX as MNIST/Fashion-MNIST ship, CIFAR-10 binary
 * batches, folders of images) fills the same Dataset: n images of c x h x w bytes in CHW order,
 * one int32 label each, and the class names. Errors follow rt.h's convention. */
#ifndef CNNC_DATA_H
#define CNNC_DATA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct Dataset {
    int n, c, h, w;
    uint8_t *pixels;        /* n * c * h * w bytes, image i at i*c*h*w, CHW */
    int32_t *labels;        /* n labels, each in [0, nclasses) */
    int nclasses;
    char **class_names;     /* nclasses strings */
    int nresized;           /* image folders: images of another size than h x w, resized */
    int resized_h, resized_w;   /* the size of the first of them */
    bool resized_mixed;     /* they do not all have that size */
} Dataset;

typedef enum { SPLIT_TRAIN, SPLIT_TEST } DataSplit;

const char *data_split_name(DataSplit s);
/* One line on f when images of an image folder were resized to the model's input, e.g.
 * "data/train: resizing 40 of 40 images from 64x48 to the model's 32x32 (bilinear)". */
void dataset_report_resize(const Dataset *ds, const char *what, FILE *f);   /* "train", "test" */

/* Finds the format in DIR and loads one split:
 *   IDX      DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   CIFAR-10 DIR/data_batch_1.bin .. data_batch_5.bin, DIR/test_batch.bin (also inside
 *            DIR/cifar-10-batches-bin/)
 *   folders  DIR/train/CLASS/FILE, DIR/test/CLASS/FILE (or DIR/CLASS/FILE for either split), images
 *            loaded as c x h x w (resized when resize is true).
 * c, h, w are what the model takes; IDX and CIFAR images must already have that shape
 * ("DIR: images are 1x28x28, the model takes 3x32x32"). */
bool dataset_load(const char *dir, DataSplit split, int c, int h, int w, bool resize,
                  Dataset *out, char *err);

/* IDX (data_idx.c). Files may be gzip-compressed; nclasses bounds the labels (10 for MNIST).
 * Class names are "0".."9", or Fashion-MNIST's names when the directory's name contains
 * "fashion". */
bool dataset_load_idx(const char *dir, DataSplit split, Dataset *out, char *err);
bool dataset_load_idx_files(const char *images_path, const char *labels_path, int nclasses,
                            Dataset *out, char *err);

/* CIFAR-10 (data_cifar.c): records of 1 label byte + 3072 bytes (3x32x32, CHW). Class names
 * from batches.meta.txt when present, else CIFAR-10's. */
enum { CIFAR_RECORD = 1 + 3 * 32 * 32 };
bool dataset_load_cifar10(const char *dir, DataSplit split, Dataset *out, char *err);
/* Appends the records of one batch file (already in memory) to ds, which must have been set
 * up with c=3, h=w=32 and room for ds->n + len/CIFAR_RECORD images. */
bool cifar_parse_records(const char *path, const uint8_t *buf, size_t len, Dataset *ds,
                         char *err);

/* Folder of class folders (data_folder.c): sub-folders in sorted order are classes 0, 1, ...;
 * files in each (sorted, hidden ones skipped) are images of that class. */
bool dataset_load_folder(const char *dir, int c, int h, int w, bool resize, Dataset *out,
                         char *err);

/* Shared (data.c). */
void dataset_free(Dataset *ds);     /* frees the contents and zeroes *ds */
/* Allocates pixels and labels for n images of c x h x w; fills nothing. */
bool dataset_alloc(Dataset *ds, int n, int c, int h, int w, const char *what, char *err);
/* Sets nclasses and copies names (NULL names: "0", "1", ...). */
bool dataset_set_classes(Dataset *ds, int nclasses, const char *const *names, char *err);
/* "WHAT: images are CxHxW, the model takes C'xH'xW'" when they differ. */
bool dataset_check_shape(const Dataset *ds, const char *what, int c, int h, int w, char *err);
/* A batch as the model takes it: dst[k] = image indices[k], x/255, NCHW. */
void dataset_batch_f32(const Dataset *ds, const int *indices, int n, float *dst);
void dataset_batch_labels(const Dataset *ds, const int *indices, int n, int32_t *dst);

#endif
