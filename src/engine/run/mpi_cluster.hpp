// The MPI side of a run (the only module that includes mpi.h): the ranks, their node-local
// numbering, small collectives rank 0 needs before a run, and the coordination links over MPI.
// Worker 0 is rank 0's own thread (through in-process links), worker r is rank r.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/run/links.hpp"

namespace robustscope {

class MpiCluster {
 public:
  MpiCluster();  // MPI_Init_thread (FUNNELED: only the main thread of each rank calls MPI)
  ~MpiCluster();
  MpiCluster(const MpiCluster&) = delete;
  MpiCluster& operator=(const MpiCluster&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among the ranks of this node
  int local_size() const { return local_size_; }

  // Rank 0's text, on every rank.
  std::string broadcast(std::string text) const;
  // Every rank's text, on rank 0 (empty elsewhere).
  std::vector<std::string> gather(const std::string& text) const;
  std::string library_version() const;  // "Open MPI v4.1.4"

  // Rank 0: a link to every worker, worker 0 reached through `local` (its worker 0).
  std::unique_ptr<CoordinatorLink> coordinator_link(InProcessLinks& local) const;
  // Ranks above 0: their link to rank 0.
  std::unique_ptr<WorkerLink> worker_link() const;

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace robustscope
