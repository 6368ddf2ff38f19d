// `hpsim calibrate` in hpsim-run: measure this machine on every rank, rank 0 writes the cluster file.
#include <mpi.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/executor/commands.hpp"
#include "apps/localhost_cluster.hpp"
#include "core/error.hpp"
#include "exec/calibration.hpp"
#include "exec/run.hpp"

namespace hpsim::apps {

namespace {

exec::CalibrationOptions options_of(const CalibrateArgs& a) {
  exec::CalibrationOptions o;
  o.backend = a.backend;
  o.seconds_per_shape = a.seconds_per_shape;
  o.dims = a.dims;
  return o;
}

}  // namespace

std::string calibrate_and_write(const CalibrateArgs& a, const std::string& path, bool quiet) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0 && !quiet)
    std::cerr << "hpsim calibrate: measuring this machine (" << (a.backend == "cuda" ? "one GPU per rank, " : "")
              << "about 15 s)...\n";
  const auto c = exec::calibrate(options_of(a), MPI_COMM_WORLD);
  const std::string yaml = exec::calibration_to_yaml(c);
  if (rank == 0) {
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir);
    // Write then rename, so that a concurrent reader never sees half a file.
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(tmp);
      if (!out) throw core::InputError(path, "--out", "cannot write the calibration file");
      out << yaml;
    }
    std::filesystem::rename(tmp, path);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return yaml;
}

int calibrate_command(const CalibrateArgs& a, Format format) {
  const auto [rank, ranks] = start_mpi();
  // Checks every rank makes alike (backend built in, a CUDA device per rank): report once, end cleanly with status 2.
  try {
    exec::check_calibration(options_of(a), MPI_COMM_WORLD);
  } catch (const core::InputError& e) {
    if (rank == 0) std::cerr << "hpsim: error: " << e.what() << "\n";
    MPI_Finalize();
    return 2;
  }
  const std::string path = a.out.empty() ? localhost_cache_file() : a.out;
  const int status = exec::run_or_abort(MPI_COMM_WORLD, [&] {
    const std::string yaml = calibrate_and_write(a, path, format == Format::json);
    if (rank == 0) {
      if (format == Format::json) {
        std::cout << nlohmann::json{{"out", path}, {"ranks", ranks}, {"backend", a.backend}}.dump(2) << "\n";
      } else {
        // The comment header is the summary.
        std::size_t pos = 0;
        while (pos < yaml.size() && yaml[pos] == '#') {
          const auto end = yaml.find('\n', pos);
          std::cout << yaml.substr(pos, end - pos) << "\n";
          pos = end + 1;
        }
        std::cout << "cluster file written to " << path << "\n";
      }
    }
    return 0;
  });
  MPI_Finalize();
  return status;
}

}  // namespace hpsim::apps
