// The MPI side of a run (the only module that includes mpi.h): the ranks, their node-local
// numbering, small collectives rank 0 needs before a run, and the coordination links over MPI.
// A rank runs `slots` tasks at once (threads, each with its own stream on a GPU); worker
// rank × slots + s is slot s of a rank. Rank 0's slots are threads reached through in-process
// links; a rank above 0 with one slot works on its main thread, with several its main thread
// relays.
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

  // Rank 0: a link to every worker, rank 0's own `slots` reached through `local`.
  std::unique_ptr<CoordinatorLink> coordinator_link(InProcessLinks& local, int slots) const;
  // Ranks above 0 with one slot: their link to rank 0.
  std::unique_ptr<WorkerLink> worker_link() const;
  // Ranks above 0 with several slots (the workers of `local`, on other threads): carries their
  // reports to rank 0 and its assignments back until every slot is told to stop.
  void relay(InProcessLinks& local, int slots) const;

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace robustscope
