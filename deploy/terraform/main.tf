# The storage of one vigil log on GCP, as Tessera's GCP driver (v1.0.4) uses
# it, and the identity the vigild frontends (deploy/k8s) run as.

resource "google_project_service" "apis" {
  for_each           = toset(["spanner.googleapis.com", "storage.googleapis.com", "iam.googleapis.com"])
  service            = each.value
  disable_on_destroy = false
}

# Sequencing: Tessera keeps the batches it has sequenced but not yet
# integrated, and its coordination rows, in Spanner.
resource "google_spanner_instance" "log" {
  name             = var.name
  config           = "regional-${var.region}"
  display_name     = var.name
  processing_units = var.spanner_processing_units
  depends_on       = [google_project_service.apis]
}

# No ddl here: the binaries own the schema. At every start Tessera runs
# CREATE TABLE IF NOT EXISTS for its tables (Tessera, SeqCoord, Seq,
# IntCoord, PubCoord, GCCoord; antispam: FollowCoord, IDSeq) and inserts
# their first rows; vigild does the same for its query index. Terraform would
# otherwise fight them over the schema.
resource "google_spanner_database" "log" {
  instance         = google_spanner_instance.log.name
  name             = var.name
  database_dialect = "GOOGLE_STANDARD_SQL"
  # Point-in-time recovery window, for an operator's mistake.
  version_retention_period = "7d"
  deletion_protection      = var.deletion_protection
  enable_drop_protection   = var.deletion_protection
}

# The log itself: tiles, entry bundles and the checkpoint, written by
# Tessera (immutable objects are cached for a week, the checkpoint not at
# all), and vigild's SBOM blobs. No retention policy or bucket lock: Tessera
# overwrites the checkpoint and deletes partial tiles once the full tile
# exists, and both would be refused. Soft delete keeps deleted objects for a
# week.
resource "google_storage_bucket" "log" {
  name                        = "${var.project}-${var.name}"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = var.public_read ? "inherited" : "enforced"
  force_destroy               = !var.deletion_protection
  soft_delete_policy {
    retention_duration_seconds = 604800
  }
  depends_on = [google_project_service.apis]
}

resource "google_service_account" "vigild" {
  account_id   = var.service_account_id
  display_name = "vigild frontends of the ${var.name} log"
}

# Read and write, and the schema changes Tessera and vigild make at start
# (roles/spanner.databaseUser includes spanner.databases.updateDdl; the
# narrower databaseReader/databaseUser split has no role without DDL that
# Tessera could start with). Granted on this database only.
resource "google_spanner_database_iam_member" "vigild" {
  instance = google_spanner_instance.log.name
  database = google_spanner_database.log.name
  role     = "roles/spanner.databaseUser"
  member   = "serviceAccount:${google_service_account.vigild.email}"
}

# Objects only, on this bucket only: create (tiles, bundles, blobs), get,
# list and delete (Tessera's garbage collection of partial tiles lists a
# prefix and deletes it) and overwrite (the checkpoint). No bucket settings
# and no IAM, as roles/storage.objectAdmin would add.
resource "google_storage_bucket_iam_member" "vigild" {
  bucket = google_storage_bucket.log.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.vigild.email}"
}

# Anyone may read an object by name, not list the bucket: all a tlog-tiles
# client needs.
resource "google_storage_bucket_iam_member" "public" {
  count  = var.public_read ? 1 : 0
  bucket = google_storage_bucket.log.name
  role   = "roles/storage.legacyObjectReader"
  member = "allUsers"
}

# GKE Workload Identity: the Kubernetes service account of deploy/k8s acts
# as this Google service account; no key is ever made.
resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.vigild.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[${var.k8s_namespace}/${var.k8s_service_account}]"
}
